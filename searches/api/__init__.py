"""The REST API (Django REST Framework; OpenAPI schema by drf-spectacular at /api/schema/).

- authentication.py  personal API tokens as `Authorization: Bearer <key>`; the browser's session works too
- errors.py          every error is JSON; a bad value is a 400 naming its field
- serializers.py     request and response shapes (the schema is read from them)
- specs.py           a search's JSON spec: the fields of the web form, for the API and `nas_search`
- pagination.py      the trial list's sort, filters and keyset cursor
- views.py           thin: check access, validate, call a service (searches/services/), answer
- pages.py           the token settings page (a browser page, session auth)

Access is the pages' own: searches/access.py, so an outsider gets 404 here too.
"""
