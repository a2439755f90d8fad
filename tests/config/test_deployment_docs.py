"""The deployment guide's files hold up: the Collector configuration in docs/ speaks to this registry's
intake as it is (path, header, encoding), uses components and fields the Collector knows, and the
guide names every queue and cites benchmark files that exist.

No ``otelcol`` binary is available here, so the configuration is checked as YAML against the core
distribution's component and field names, and its exporter's request is replayed against the real
endpoint.
"""

import gzip
import re
from pathlib import Path

import pytest
import yaml
from django.urls import reverse
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

BASE_DIR = Path(__file__).resolve().parents[2]
COLLECTOR = BASE_DIR / "docs" / "otel-collector.yaml"
GUIDE = BASE_DIR / "docs" / "deployment.md"

# Fields of the core distribution's components (opentelemetry-collector: receiver/otlpreceiver,
# processor/batchprocessor, processor/memorylimiterprocessor, exporter/otlphttpexporter with
# exporterhelper's retry and queue settings).
KNOWN = {
    "receivers": {"otlp": {"protocols"}},
    "processors": {
        "batch": {"send_batch_size", "send_batch_max_size", "timeout", "metadata_keys", "metadata_cardinality_limit"},
        "memory_limiter": {
            "check_interval",
            "limit_mib",
            "spike_limit_mib",
            "limit_percentage",
            "spike_limit_percentage",
        },
    },
    "exporters": {
        "otlphttp": {
            "endpoint",
            "traces_endpoint",
            "metrics_endpoint",
            "logs_endpoint",
            "headers",
            "encoding",
            "compression",
            "timeout",
            "tls",
            "retry_on_failure",
            "sending_queue",
            "auth",
        }
    },
}
RETRY_FIELDS = {"enabled", "initial_interval", "randomization_factor", "multiplier", "max_interval", "max_elapsed_time"}
QUEUE_FIELDS = {"enabled", "num_consumers", "queue_size", "storage", "blocking", "sizer"}


@pytest.fixture(scope="module")
def collector() -> dict:
    return yaml.safe_load(COLLECTOR.read_text())


def _type(name: str) -> str:
    return name.split("/", 1)[0]


def test_the_collector_configuration_uses_only_components_and_fields_the_collector_knows(collector):
    for section, kinds in KNOWN.items():
        for name, config in collector[section].items():
            assert _type(name) in kinds, f"{section}.{name} is not a core component"
            unknown = set(config) - kinds[_type(name)]
            assert not unknown, f"{section}.{name} has fields the Collector does not know: {unknown}"
    exporter = collector["exporters"]["otlphttp/registry"]
    assert set(exporter["retry_on_failure"]) <= RETRY_FIELDS
    assert set(exporter["sending_queue"]) <= QUEUE_FIELDS
    assert exporter["retry_on_failure"]["enabled"] is True
    assert exporter["sending_queue"]["enabled"] is True
    assert set(collector["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}


def test_the_traces_pipeline_limits_memory_first_then_batches_to_the_registry(collector):
    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["processors"] == ["memory_limiter", "batch"]
    assert pipeline["receivers"] == ["otlp"]
    assert pipeline["exporters"] == ["otlphttp/registry"]
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline[kind]:
            assert name in collector[kind], f"the pipeline names {kind}.{name}, which is not defined"


def _as_the_collector_sends(collector, *, url: str, token: str) -> tuple[str, dict, bytes]:
    """The request the otlphttp exporter makes with these environment values: path, headers, body."""
    exporter = collector["exporters"]["otlphttp/registry"]
    endpoint = exporter["traces_endpoint"].replace("${env:REGISTRY_URL}", url)
    headers = {k: v.replace("${env:REGISTRY_INGEST_TOKEN}", token) for k, v in exporter["headers"].items()}
    assert exporter["encoding"] == "proto"
    assert exporter["compression"] == "gzip"
    body = gzip.compress(trace_service_pb2.ExportTraceServiceRequest().SerializeToString())
    return endpoint, headers, body


def test_the_exporter_reaches_the_registrys_otlp_intake_with_the_ingest_token(collector, client, ingest_token):
    # given the exporter's request as the Collector would build it for this registry
    endpoint, headers, body = _as_the_collector_sends(collector, url="", token=ingest_token)
    assert endpoint == reverse("otlp-traces")
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    # when it is sent
    response = client.post(endpoint, body, content_type="application/x-protobuf", HTTP_CONTENT_ENCODING="gzip", **extra)
    # then the registry accepts it: the header the file sets is the one the intake reads
    assert response.status_code == 200, response.content
    # and with another token in the same place it is refused, so the header really authenticates
    _endpoint, wrong, _body = _as_the_collector_sends(collector, url="", token="ing_not-a-token")
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in wrong.items()}
    refused = client.post(endpoint, body, content_type="application/x-protobuf", HTTP_CONTENT_ENCODING="gzip", **extra)
    assert refused.status_code == 401


def test_a_batch_of_the_configured_size_fits_under_the_registrys_body_limit(collector, settings):
    # A generous 2 KB per span (attributes, ids, names) before compression.
    largest = collector["processors"]["batch"]["send_batch_max_size"]
    assert largest * 2048 < settings.TELEMETRY_MAX_BODY_BYTES


def test_the_guide_names_every_queue_and_cites_benchmark_files_that_exist():
    text = GUIDE.read_text()
    for queue in ("telemetry", "checks", "notifications", "exports", "celery"):
        assert f"| `{queue}` |" in text, f"the queue table lacks {queue}"
    cited = set(re.findall(r"bench/[a-z_]+\.md", text))
    assert {"bench/telemetry_results.md", "bench/runtime_results.md", "bench/drift_results.md"} <= cited
    for path in cited:
        assert (BASE_DIR / path).exists(), f"{path} is cited but missing"
    assert "docs/otel-collector.yaml" in text
