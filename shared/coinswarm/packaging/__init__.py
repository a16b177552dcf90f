"""`make package`: one deployable zip per function and cloud, built from the project's one configuration.

    python -m coinswarm.packaging --config coinswarm.toml --out dist

* `dist/aws/<function>.zip`: a Lambda deployment package (arm64, `LAMBDA_RUNTIME`). At its root the
  package `coinswarm` (shared/coinswarm), `functions/` with only the modules the entry point imports
  (`functions/<name>/aws.py`, `functions/aws_common.py`, ...), and the dependencies installed for
  the Lambda platform (manylinux aarch64 wheels, binary ones such as pydantic-core included).
  boto3/botocore are left out: the Lambda Python runtime carries them, and the adapters use only
  long-standing DynamoDB, SQS and SSM calls, so its copy serves and every zip is ~15 MB lighter.
* `dist/gcp/<function>.zip`: Cloud Functions (2nd gen) source: `main.py` exporting the entry point
  (named like the function), the same `coinswarm` and `functions/` sources, and `requirements.txt`
  (Cloud Build installs it; nothing vendored).
* `dist/manifest.json`: for Terraform: each zip's path, sha256 (base64, as `source_code_hash`
  wants), sizes, handler or entry point, runtime, deployed name and whether the configuration
  places the function on that cloud.

Which dependencies a package carries follows the configuration (`plan.requirements`): the core
(pydantic, httpx), the cloud's own (powertools on AWS; functions-framework and the Pub/Sub client on
GCP), and each configured adapter's SDK (`store.state/coordination` = "dynamodb" -> boto3 where the
runtime lacks it, "firestore" -> google-cloud-firestore; `store.history` = "cosmos" -> azure-cosmos);
nothing else. Version ranges come from pyproject.toml, pinned to the versions installed in the
environment that builds (the ones the tests ran with) when it has them.

Zips are reproducible: entries sorted, fixed timestamps and permissions, no `__pycache__`, so a
rebuild of unchanged content is byte-identical and Terraform's `source_code_hash` changes only when
the content does.
"""

LAMBDA_RUNTIME = "python3.12"
GCP_RUNTIME = "python312"
