"""moto_codeconnections: what mkpipeline needs from AWS that moto 5.2.5 does not emulate.

- AWS CodeConnections (the successor of CodeStar Connections), which moto lacks: CreateConnection
  (a new connection is PENDING until someone completes the provider handshake in the console, as on
  AWS), GetConnection, ListConnections, DeleteConnection, TagResource, UntagResource and
  ListTagsForResource, over the JSON 1.0 protocol (X-Amz-Target `CodeConnections_20231201.<Op>`).
  moto's server picks a backend by the service in the SigV4 credential scope, and has none for
  `codeconnections`; install() routes those requests here before moto looks. State is kept per
  account and region, like moto's own models.
- S3 PutObject with a condition (If-None-Match, If-Match) is atomic, as on S3: moto's threaded server
  checked and stored apart, so two conditional puts at once could both succeed.
- S3 GetBucketVersioning answers with the root element AWS uses, <VersioningConfiguration> (moto
  writes <GetBucketVersioningResponse>, which the Rust SDK cannot parse).
- CodePipeline GetPipeline and ListPipelines answer `created`/`updated` as epoch seconds, as the
  JSON 1.1 protocol has it (moto writes ISO 8601 strings, which the Rust SDK rejects).
- CodePipeline CreatePipeline of a name in use answers PipelineNameInUseException, as AWS does (moto
  raises InvalidStructureException, which a client cannot tell from a malformed declaration).
- CodeBuild: UpdateProject, which moto lacks, and projects whose source and artifacts are of type
  CODEPIPELINE without a `location` (AWS ignores it for that type; moto demands one).

Hooked into moto-ekskit.py with install().
"""

import datetime
import json
import re
import threading
import uuid

API = "CodeConnections_20231201"
PROVIDERS = {"Bitbucket", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged", "AzureDevOps"}
NAME = re.compile(r"^[\w-]{1,32}$")

CONNECTIONS = {}  # (account, region) -> {arn: connection}
TAGS = {}  # arn -> {key: value}


class ApiError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _account(environ):
    """The account of the caller's access key, as moto finds it for its own services."""
    import os

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    match = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return get_account_id_from(match.group(1) if match else "AKIAEXAMPLE")


def _scope(environ):
    """(region, service) from the SigV4 credential scope, or (None, None)."""
    match = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request", environ.get("HTTP_AUTHORIZATION", ""))
    return (match.group(1), match.group(2)) if match else (None, None)


def _connection(store, arn):
    found = store.get(arn)
    if found is None:
        raise ApiError("ResourceNotFoundException", f"Connection {arn} not found")
    return found


def _tags_in(body):
    tags = body.get("Tags") or []
    for tag in tags:
        if not isinstance(tag, dict) or not tag.get("Key") or "Value" not in tag:
            raise ApiError("ValidationException", "each tag needs a Key and a Value")
        if tag["Key"].startswith("aws:"):
            raise ApiError("ValidationException", "tag keys starting with aws: are reserved")
    return {t["Key"]: t["Value"] for t in tags}


def _tags_out(arn):
    return [{"Key": k, "Value": v} for k, v in sorted(TAGS.get(arn, {}).items())]


def create_connection(account, region, body):
    name = body.get("ConnectionName") or ""
    if not NAME.match(name):
        raise ApiError("ValidationException", f"ConnectionName '{name}' must be 1-32 characters of [A-Za-z0-9_-]")
    provider, host = body.get("ProviderType"), body.get("HostArn")
    if not provider and not host:
        raise ApiError("ValidationException", "one of ProviderType or HostArn is required")
    if provider and provider not in PROVIDERS:
        raise ApiError("ValidationException", f"ProviderType '{provider}' is not one of {sorted(PROVIDERS)}")
    if host and not host.startswith("arn:"):
        raise ApiError("ValidationException", f"HostArn '{host}' is not an ARN")
    store = CONNECTIONS.setdefault((account, region), {})
    if len(store) >= 250:
        raise ApiError("LimitExceededException", "at most 250 connections per account and region")
    tags = _tags_in(body)
    arn = f"arn:aws:codeconnections:{region}:{account}:connection/{uuid.uuid4()}"
    store[arn] = {
        "ConnectionName": name,
        "ConnectionArn": arn,
        "ProviderType": provider or "GitHubEnterpriseServer",
        "OwnerAccountId": account,
        "ConnectionStatus": "PENDING",
        **({"HostArn": host} if host else {}),
    }
    TAGS[arn] = tags
    return {"ConnectionArn": arn, "Tags": _tags_out(arn)}


def get_connection(account, region, body):
    store = CONNECTIONS.get((account, region), {})
    return {"Connection": _connection(store, body.get("ConnectionArn", ""))}


def list_connections(account, region, body):
    found = list(CONNECTIONS.get((account, region), {}).values())
    if body.get("ProviderTypeFilter"):
        found = [c for c in found if c["ProviderType"] == body["ProviderTypeFilter"]]
    if body.get("HostArnFilter"):
        found = [c for c in found if c.get("HostArn") == body["HostArnFilter"]]
    start = int(body.get("NextToken") or 0)
    size = int(body.get("MaxResults") or 50)
    page = found[start : start + size]
    out = {"Connections": page}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return out


def delete_connection(account, region, body):
    store = CONNECTIONS.get((account, region), {})
    arn = body.get("ConnectionArn", "")
    _connection(store, arn)
    del store[arn]
    TAGS.pop(arn, None)
    return {}


def _tagged(account, region, arn):
    _connection(CONNECTIONS.get((account, region), {}), arn)
    return arn


def tag_resource(account, region, body):
    arn = _tagged(account, region, body.get("ResourceArn", ""))
    TAGS.setdefault(arn, {}).update(_tags_in(body))
    if len(TAGS[arn]) > 200:
        raise ApiError("TooManyTagsException", "at most 200 tags per resource")
    return {}


def untag_resource(account, region, body):
    arn = _tagged(account, region, body.get("ResourceArn", ""))
    for key in body.get("TagKeys") or []:
        TAGS.get(arn, {}).pop(key, None)
    return {}


def list_tags_for_resource(account, region, body):
    arn = _tagged(account, region, body.get("ResourceArn", ""))
    return {"Tags": _tags_out(arn)}


OPERATIONS = {
    "CreateConnection": create_connection,
    "GetConnection": get_connection,
    "ListConnections": list_connections,
    "DeleteConnection": delete_connection,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}


def codeconnections_app(environ, start_response):
    """A WSGI app answering CodeConnections' JSON 1.0 protocol."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    region, _ = _scope(environ)
    try:
        # `CodeConnections_20231201.GetConnection`; some clients send it with its Smithy namespace.
        service, _, operation = target.rpartition(".")
        handler = OPERATIONS.get(operation) if service.split(".")[-1] == API else None
        if handler is None:
            raise ApiError("UnknownOperationException", f"operation {target!r} is not emulated")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw or b"{}")
        if region is None:
            raise ApiError("MissingAuthenticationTokenException", "the request is not signed (SigV4)", 403)
        status, payload = "200 OK", handler(_account(environ), region, body)
    except ApiError as e:
        status, payload = f"{e.status} Bad Request", {"__type": e.code, "message": e.message}
    except ValueError as e:
        status, payload = "400 Bad Request", {"__type": "SerializationException", "message": str(e)}
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data)))])
    return [data]


def _is_codeconnections(environ):
    _, service = _scope(environ)
    return service == "codeconnections" or f"{API}." in environ.get("HTTP_X_AMZ_TARGET", "")


# CodeBuild


def _install_codebuild():
    from moto.codebuild import responses
    from moto.core.responses import ActionResult

    def relaxed(check, kind):
        def validate(value):
            # AWS ignores `location` for CODEPIPELINE sources and artifacts; moto requires it.
            if value.get("type") == "CODEPIPELINE" and not value.get("location"):
                check({**value, "location": "codepipeline"})
            else:
                check(value)

        validate.__name__ = f"_validate_required_params_{kind}"
        return validate

    responses._validate_required_params_source = relaxed(responses._validate_required_params_source, "source")
    responses._validate_required_params_artifacts = relaxed(responses._validate_required_params_artifacts, "artifacts")

    def update_project(self):
        name = self._get_param("name")
        project = self.codebuild_backend.codebuild_projects.get(name)
        if project is None:
            raise responses.ResourceNotFoundException(f"Project cannot be found: {name}")
        meta = project.project_metadata
        if self._get_param("source") is not None:
            responses._validate_required_params_source(self._get_param("source"))
            meta["source"] = self._get_param("source")
        if self._get_param("artifacts") is not None:
            responses._validate_required_params_artifacts(self._get_param("artifacts"))
            meta["artifacts"] = self._get_param("artifacts")
        if self._get_param("environment") is not None:
            responses._validate_required_params_environment(self._get_param("environment"))
            meta["environment"] = self._get_param("environment")
        if self._get_param("serviceRole") is not None:
            responses._validate_required_params_service_role(
                self.current_account, self.region, self._get_param("serviceRole")
            )
            meta["serviceRole"] = project.service_role = self._get_param("serviceRole")
        for param, key in (("description", "description"), ("logsConfig", "logsConfig"), ("cache", "cache"),
                           ("timeoutInMinutes", "timeoutInMinutes"), ("vpcConfig", "vpcConfig"),
                           ("queuedTimeoutInMinutes", "queuedTimeoutInMinutes")):
            if self._get_param(param) is not None:
                meta[key] = self._get_param(param)
        if self._get_param("tags") is not None:
            meta["tags"] = project.tags = self._get_param("tags")
        meta["lastModifiedDate"] = datetime.datetime.now(datetime.UTC).timestamp()
        return ActionResult({"project": meta})

    responses.CodeBuildResponse.update_project = update_project


# S3


def _install_s3():
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_versioning

    def get_bucket_versioning(self):
        status, headers, body = original(self)
        if isinstance(body, bytes):
            body = body.replace(b"GetBucketVersioningResponse", b"VersioningConfiguration")
        elif isinstance(body, str):
            body = body.replace("GetBucketVersioningResponse", "VersioningConfiguration")
        return status, headers, body

    S3Response.get_bucket_versioning = get_bucket_versioning

    # S3 applies a conditional PutObject (If-None-Match: *, If-Match) atomically; moto's threaded
    # server checks and then stores, so two puts at once could both pass. One at a time here.
    original_put = S3Response.put_object
    put_lock = threading.Lock()

    def put_object(self):
        with put_lock:
            return original_put(self)

    S3Response.put_object = put_object


# CodePipeline


def _epoch(text):
    when = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
    return when.timestamp()


def _install_codepipeline():
    from moto.codepipeline.models import CodePipelineBackend
    from moto.codepipeline.responses import CodePipelineResponse
    from moto.core.exceptions import JsonRESTError

    original_create = CodePipelineBackend.create_pipeline

    def create_pipeline(self, pipeline, tags):
        if pipeline["name"] in self.pipelines:
            raise JsonRESTError("PipelineNameInUseException", f"Pipeline name {pipeline['name']} is already in use.")
        return original_create(self, pipeline, tags)

    CodePipelineBackend.create_pipeline = create_pipeline

    def epoch_times(method, path):
        def wrapped(self):
            body = json.loads(method(self))
            for item in path(body):
                for key in ("created", "updated"):
                    if isinstance(item.get(key), str):
                        item[key] = _epoch(item[key])
            return json.dumps(body)

        wrapped.__name__ = method.__name__
        return wrapped

    CodePipelineResponse.get_pipeline = epoch_times(CodePipelineResponse.get_pipeline, lambda b: [b["metadata"]])
    CodePipelineResponse.list_pipelines = epoch_times(CodePipelineResponse.list_pipelines, lambda b: b["pipelines"])


def install():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def dispatch(self, environ, start_response):
        if _is_codeconnections(environ):
            return codeconnections_app(environ, start_response)
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = dispatch
    _install_codebuild()
    _install_s3()
    _install_codepipeline()
