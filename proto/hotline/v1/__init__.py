"""Generated code of the hotline.v1 contract (see the .proto files beside it)."""
