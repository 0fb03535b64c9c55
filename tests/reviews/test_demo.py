import pytest
from django.core.management import CommandError, call_command

from pbqms.reviews.models import ManagementReview, ReviewOutput


def test_refused_outside_demo_mode(db, settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError):
        call_command("demo_reviews")
    assert not ManagementReview.objects.exists()


def test_loads_once_after_the_demo(db, settings):
    settings.DEMO_MODE = True
    call_command("demo", verbosity=0)
    call_command("demo_documents", verbosity=0)
    call_command("demo_improvement", verbosity=0)
    call_command("demo_reviews")
    review = ManagementReview.objects.get()
    assert review.status == ManagementReview.Status.HELD
    assert review.snapshot.data["nonconformities"]["raised"] >= 5
    statuses = sorted(review.outputs.values_list("status", flat=True))
    assert statuses == ["done", "done", "open"]
    assert review.chair.user.username == "shuji"
    call_command("demo_reviews")
    assert ManagementReview.objects.count() == 1 and ReviewOutput.objects.count() == 3
