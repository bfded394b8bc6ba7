"""Starts moto's server (same arguments as `python3 -m moto.server`) with two harness fixes.

moto 5.2.1 authorizes Secrets Manager calls and IAM user calls against the resource "*"
(only IAM role, STS AssumeRole, S3 and SQS requests name their resource; see
moto/core/responses.py `call_action` and `_determine_resource`). A policy whose statements
name real ARNs, as ours do, then matches nothing and every call is denied, while a policy
with `Resource: "*"` would pass everything: resource scoping cannot be tested at all.

This launcher only tells moto which resource a request targets: the secret's ARN for
Secrets Manager calls that take SecretId; the user's ARN for IAM calls on a named user
(IAM_USER_ACTIONS: the access key calls, and GetUser and ListUserTags, which moto alone would
also evaluate against "*"); and for GetAccessKeyLastUsed, which names only an AccessKeyId, the
ARN of the user in moto's IAM backend (the request's account) who owns that key, or the "*"
default when no user does (a key of nobody, or of a role session). Signature checks and policy
evaluation stay moto's own code. Everything else is unchanged.

Second fix: moto 5.2.1 answers a Secrets Manager request it refuses (AccessDenied,
InvalidClientTokenId, SignatureDoesNotMatch) with the XML error of the Query protocol and
HTTP 403, which an SDK speaking Secrets Manager's JSON protocol cannot parse ("Deserialization
error"). AWS answers with a JSON error (`AccessDeniedException`, `UnrecognizedClientException`,
`InvalidSignatureException`, HTTP 400); this launcher re-encodes moto's refusal that way.

Third fix, for rotation functions that exist in moto's Lambda backend only (a function ARN that
names no function keeps moto's own behaviour, which the harness relies on elsewhere): moto 5.2.1's
RotateSecret would run the function in Docker, forgets the configured function when a request
omits RotationLambdaARN (and then moves AWSCURRENT to an empty version), and moves a pending
AWSPENDING instead of refusing. With a deployed function this launcher does what AWS does before
it invokes the function asynchronously: it refuses while AWSPENDING is on a version that is not
AWSCURRENT ("A previous rotation isn't complete"), keeps the configured function when the request
names none, creates the new version with AWSPENDING and no value, enables rotation, and returns
its VersionId without invoking anything: the test invokes the steps, as Secrets Manager would.

Fourth fix, only when the environment sets MOTO_HARNESS_VERSION_DATES=1 (other suites keep moto's
own dates): moto 5.2.1's ListSecretVersionIds reports every version as created "now"; this launcher
reports the time the version was created, as AWS does, so the age of a pending rotation shows.
"""

import json
import os
import sys
import time
import uuid

from moto.core.exceptions import JsonRESTError
from moto.iam.responses import IamResponse
from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import main

# IAM actions whose resource is the user named by the UserName parameter.
IAM_USER_ACTIONS = {
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetUser",
    "UpdateUser",
    "DeleteUser",
    "CreateUser",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "TagUser",
    "UntagUser",
    "ListUserTags",
}

# IAM actions that name only an access key: their resource is the user who owns it.
IAM_ACCESS_KEY_ACTIONS = {
    "GetAccessKeyLastUsed",
}

_original_iam_resource = IamResponse._determine_resource


def _first(values):
    if isinstance(values, list):
        return values[0] if values else None
    return values


def _access_key_owner_arn(backend, access_key_id):
    """The ARN of the user in `backend` who holds `access_key_id`, or None."""
    for user in list(backend.users.values()):
        if any(key.access_key_id == access_key_id for key in user.access_keys):
            return user.arn
    return None


def _iam_resource(self):
    action = _first(self.querystring.get("Action"))
    user_name = _first(self.querystring.get("UserName"))
    if action in IAM_USER_ACTIONS and user_name:
        try:
            return self.backend.get_user(user_name).arn
        except Exception:  # the user does not exist: AWS still evaluates its ARN
            return f"arn:{self.partition}:iam::{self.current_account}:user/{user_name}"
    access_key_id = _first(self.querystring.get("AccessKeyId"))
    if action in IAM_ACCESS_KEY_ACTIONS and access_key_id:
        owner_arn = _access_key_owner_arn(self.backend, access_key_id)
        if owner_arn is not None:
            return owner_arn
    return _original_iam_resource(self)


def _secret_resource(self):
    try:
        body = json.loads(self.body or "{}")
    except ValueError:
        return "*"
    secret_id = body.get("SecretId") if isinstance(body, dict) else None
    if not isinstance(secret_id, str) or secret_id == "":
        return "*"
    secret = self.backend.secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    return (
        f"arn:{self.partition}:secretsmanager:{self.region}:{self.current_account}"
        f":secret:{secret_id}"
    )


# Secrets Manager's JSON error types for moto's Query-protocol authentication errors.
SECRETS_MANAGER_AUTH_ERRORS = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}

_original_secrets_authenticate = SecretsManagerResponse._authenticate_and_authorize_normal_action


def _secrets_authenticate(self, resource="*"):
    try:
        _original_secrets_authenticate(self, resource)
    except Exception as error:
        error_type = getattr(error, "error_type", None)
        if isinstance(error, JsonRESTError) or error_type not in SECRETS_MANAGER_AUTH_ERRORS:
            raise
        json_error = JsonRESTError(SECRETS_MANAGER_AUTH_ERRORS[error_type], error.message)
        json_error.code = 400
        raise json_error from error


_original_rotate_secret = SecretsManagerBackend.rotate_secret


def _deployed_function(backend, function_arn):
    """True when moto's Lambda backend of the secret's account and region has the function."""
    if not function_arn:
        return False
    from moto.awslambda.utils import get_backend

    try:
        get_backend(backend.account_id, backend.region_name).get_function(function_arn)
        return True
    except Exception:
        return False


def _rotate_secret(
    self,
    secret_id,
    client_request_token=None,
    rotation_lambda_arn=None,
    rotation_rules=None,
    rotate_immediately=True,
):
    secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
    function_arn = rotation_lambda_arn or getattr(secret, "rotation_lambda_arn", None)
    if (
        secret is None
        or not rotate_immediately
        or not secret.versions
        or not _deployed_function(self, function_arn)
    ):
        return _original_rotate_secret(
            self,
            secret_id,
            client_request_token=client_request_token,
            rotation_lambda_arn=rotation_lambda_arn,
            rotation_rules=rotation_rules,
            rotate_immediately=rotate_immediately,
        )
    for version in secret.versions.values():
        stages = version["version_stages"]
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            raise InvalidRequestException(
                "A previous rotation isn't complete. That rotation will be reattempted."
            )
    # AWS moves an AWSPENDING left on the AWSCURRENT version to the new version.
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    if client_request_token:
        self._client_request_token_validator(client_request_token)
        new_version_id = client_request_token
    else:
        new_version_id = str(uuid.uuid4())
    now = int(time.time())
    secret.versions[new_version_id] = {
        "createdate": now,
        "version_id": new_version_id,
        "version_stages": ["AWSPENDING"],
    }
    secret.rotation_requested = True
    secret.rotation_lambda_arn = function_arn
    if rotation_rules and "AutomaticallyAfterDays" in rotation_rules:
        secret.auto_rotate_after_days = int(rotation_rules["AutomaticallyAfterDays"])
    if secret.auto_rotate_after_days > 0:
        secret.rotation_enabled = True
        secret.next_rotation_date = now + secret.auto_rotate_after_days * 86400
    secret.last_rotation_date = now
    return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": new_version_id})


_original_list_secret_version_ids = SecretsManagerBackend.list_secret_version_ids


def _list_secret_version_ids(self, secret_id):
    answer = json.loads(_original_list_secret_version_ids(self, secret_id))
    versions = self.secrets[secret_id].versions
    for entry in answer.get("Versions", []):
        created = versions.get(entry.get("VersionId"), {}).get("createdate")
        if created is not None:
            entry["CreatedDate"] = created
    return json.dumps(answer)


SecretsManagerBackend.rotate_secret = _rotate_secret
if os.environ.get("MOTO_HARNESS_VERSION_DATES") == "1":
    SecretsManagerBackend.list_secret_version_ids = _list_secret_version_ids
IamResponse._determine_resource = _iam_resource
SecretsManagerResponse._authenticate_and_authorize_normal_action = _secrets_authenticate
SecretsManagerResponse._determine_resource = _secret_resource

if __name__ == "__main__":
    main(sys.argv[1:])
