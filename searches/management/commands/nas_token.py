"""Make or revoke a personal API token from the command line (for a server without a browser)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from searches import services


class Command(BaseCommand):
    help = "Make an API token for a user and print its key (shown once), or revoke one with --revoke ID."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="what the token is for")
        parser.add_argument("--revoke", type=int, metavar="ID", help="revoke this token of the user instead")

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        if opts["revoke"] is not None:
            if not services.revoke_token(user, opts["revoke"]):
                raise CommandError(f"{user.username} has no active token {opts['revoke']}")
            self.stdout.write(f"token {opts['revoke']} revoked")
            return
        try:
            _, key = services.create_token(user, opts["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(key)
