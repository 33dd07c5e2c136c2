"""The API's single error body, for every kind of failure a view can raise."""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from apps.core.api.errors import exception_handler
from apps.core.exceptions import Conflict, ValidationFailed


def test_field_errors_are_named_in_the_message_and_listed_per_field() -> None:
    response = exception_handler(
        ValidationError({"email": ["Enter a valid e-mail."], "severity": ["Pick P1-P4."]}), {}
    )
    assert response is not None and response.status_code == 400
    assert response.data == {
        "error": {
            "code": "invalid",
            "message": "Some fields are not valid: email, severity.",
            "fields": {"email": ["Enter a valid e-mail."], "severity": ["Pick P1-P4."]},
        }
    }


def test_general_validation_errors_become_the_message() -> None:
    class Form(serializers.Serializer):
        def validate(self, attrs):
            raise serializers.ValidationError("Give an ETA or say it is unknown.")

    form = Form(data={})
    assert not form.is_valid()
    response = exception_handler(ValidationError(form.errors), {})
    assert response.data["error"]["message"] == "Give an ETA or say it is unknown."
    assert response.data["error"]["fields"] == {}


def test_application_errors_keep_their_status_code_and_fields() -> None:
    response = exception_handler(Conflict("This incident is already resolved."), {})
    assert response.status_code == 409
    assert response.data["error"] == {
        "code": "conflict",
        "message": "This incident is already resolved.",
        "fields": {},
    }
    response = exception_handler(
        ValidationFailed("Cannot create.", fields={"slug": ["Taken."]}), {}
    )
    assert response.status_code == 400
    assert response.data["error"]["fields"] == {"slug": ["Taken."]}
