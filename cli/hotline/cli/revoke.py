"""``hotline revoke``: exercise control revokes a credential during the exercise.

The credential (a token's id, or a certificate's serial number, as ``hotline token`` and
``hotline pki issue`` print them) is refused from then on, and its open sessions end at
once; the revocation is recorded in the log. ``hotline pki revoke`` puts a certificate on
the exercise CA's revocation list as well, for other servers and later exercises.
"""

from __future__ import annotations

import argparse
from typing import Any

from hotline.client import HotlineClient


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "revoke",
        parents=[connected],
        help="revoke a credential now (exercise control)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("credential_id", metavar="ID", help="the credential's id (hexadecimal)")
    parser.add_argument("--reason", default="", help="why, for the record")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    async with HotlineClient(args.address, args.token, tls=args.tls) as client:
        response = await client.revoke_credential(args.credential_id, args.reason)
    print(
        f"credential {args.credential_id} revoked (record #{response.index}); "
        f"{response.sessions_ended} open sessions ended"
    )
    return 0
