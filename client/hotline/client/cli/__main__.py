"""``python -m hotline.client.cli``: the same as the ``hotline`` command."""

from hotline.client.cli import main

main()
