"""The OpenAPI document is generated from the code, validates against the OpenAPI 3 schema, and lists
every endpoint of the API's URL map."""

import re

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from searches.api import urls

HIDDEN = {"api:root", "api:schema"}


def openapi_path(route: str) -> str:
    return "/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_the_schema_validates_and_lists_every_endpoint():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)  # raises on a document that is not valid OpenAPI 3
    listed = set(schema["paths"])
    routes = {openapi_path(str(p.pattern)) for p in urls.urlpatterns if f"api:{p.name}" not in HIDDEN}
    assert routes - listed == set() and len(routes) == 29
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    create = schema["paths"]["/api/projects/{project_id}/searches/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("SearchSpecRequest")
    assert "text/csv" in schema["paths"]["/api/searches/{search_id}/trials.csv"]["get"]["responses"]["200"]["content"]


def test_the_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and response.json()["info"]["title"] == "nasweb API"
