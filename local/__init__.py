"""The offline stack: the very same Lambda handlers against emulated AWS, no account, no network.

`python -m local.stack` starts moto, provisions the resources that `template.yaml` declares,
and serves the HTTP API, the WebSocket API and its `@connections` endpoint, a dev JWT issuer
and the web page on one port. Dev and test only: nothing shipped imports this package.
"""
