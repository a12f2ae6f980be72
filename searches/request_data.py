"""What a view reads from its request."""

from __future__ import annotations


def posted(request):
    """The form's data on a POST, even an empty one (which then says what is required); None on a GET.

    `request.POST or None` would treat an empty POST as a GET (an empty QueryDict is falsy): the page
    would come back blank, without saying which fields are required."""
    return request.POST if request.method == "POST" else None


def posted_files(request):
    """The uploaded files on a POST (possibly none); None on a GET."""
    return request.FILES if request.method == "POST" else None
