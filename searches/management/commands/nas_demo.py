"""Creates the demo user, a project on digits and a small random search (idempotent)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from searches import services
from searches.models import Project

DEMO_USER, DEMO_PASSWORD = "demo", "nasweb-demo"


class Command(BaseCommand):
    help = "Create the demo user (demo / nasweb-demo), a digits project and a demo search."

    def add_arguments(self, parser):
        parser.add_argument("--trials", type=int, default=12)
        parser.add_argument("--epochs", type=int, default=8)
        parser.add_argument("--no-search", action="store_true", help="create the user and project only")

    def handle(self, *args, **opts):
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USER)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        project = Project.objects.filter(owner=user, name="Digits demo").first()
        if project is None:
            project = services.create_project(user, "Digits demo", services.builtin_dataset("digits"),
                                              "Handwritten digits, 8x8 pixels: a search that finishes in a minute.")
        if not opts["no_search"] and not project.searches.exists():
            services.start_search(project, user, name="Random MLPs on digits", space_kind="chain_mlp",
                                  space_spec=None, strategy="random", max_trials=opts["trials"],
                                  training={"epochs": opts["epochs"]}, seed=0)
        self.stdout.write(f"demo user: {DEMO_USER} / {DEMO_PASSWORD}; project id {project.id}")
