"""gRPC adapters: thin translations between the contract and the switchboard."""
