"""The user's side of the HTTP API: generations, refine, cancel, history, preferences.

Answers are read tolerantly: a field this CLI does not know yet (a newer API) is left out
before the answer is checked against the API's own model, never a reason to fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urljoin

from sketchbridge.cli.endpoints import Endpoints
from sketchbridge.cli.errors import ApiError
from sketchbridge.cli.http import HttpSession, with_query

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from sketchbridge.domain.models import GenerationRequest, JobResponse

_Model = TypeVar("_Model", bound="BaseModel")


def parse_answer(model: type[_Model], payload: Any) -> _Model:
    """``payload`` as ``model``, without the top-level fields the model does not know."""
    from pydantic import ValidationError

    if isinstance(payload, dict):
        payload = {key: value for key, value in payload.items() if key in model.model_fields}
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(
            f"The API answered with an unexpected {model.__name__}: {exc}", code="bad_response"
        ) from exc


def job_path(job_id: str, *rest: str) -> str:
    return "/".join([f"/generations/{quote(job_id, safe='')}", *rest])


class SketchbridgeClient(HttpSession):
    """Calls to the API with the user's token.

    ``http`` lets a test hand in an ``httpx.Client`` with a ``MockTransport``.
    """

    def __init__(self, endpoints: Endpoints, *, http: httpx.Client | None = None) -> None:
        super().__init__(http)
        self.endpoints = endpoints

    # ------------------------------------------------------------ generations

    def submit(self, request: GenerationRequest) -> JobResponse:
        """``POST /generations``: 202 with a queued job, or 200 already succeeded (cache hit).

        Only what the command line set is sent: what it leaves out, the API fills from the
        user's saved preferences, then its defaults.
        """
        body = request.model_dump(mode="json", exclude_unset=True)
        return self._job(self.call("POST", "/generations", body=body))

    def get(self, job_id: str) -> JobResponse:
        return self._job(self.call("GET", job_path(job_id)))

    def refine(self, job_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /generations/{id}/refine``: the new job (``parent_id`` = ``job_id``)."""
        return self._object(self.call("POST", job_path(job_id, "refine"), body=body))

    def cancel(self, job_id: str) -> dict[str, Any]:
        """``POST /generations/{id}/cancel``: the job, now ``canceled``."""
        return self._object(self.call("POST", job_path(job_id, "cancel")))

    def history_page(
        self, *, limit: int, cursor: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        """``GET /generations``: one page, newest first, and the cursor of the next."""
        query = {"limit": str(limit), "cursor": cursor, "status": status}
        return self._object(self.call("GET", "/generations", query=query))

    def providers(self) -> dict[str, Any]:
        """``GET /providers`` as sent: shown as it is, whatever fields a newer API adds."""
        return self._object(self.call("GET", "/providers"))

    # ------------------------------------------------------------ preferences

    def preferences(self) -> dict[str, Any]:
        return self._object(self.call("GET", "/preferences"))

    def save_preferences(self, change: Mapping[str, Any]) -> dict[str, Any]:
        return self._object(self.call("PUT", "/preferences", body=change))

    def reset_preferences(self) -> dict[str, Any]:
        return self._object(self.call("DELETE", "/preferences"))

    # ------------------------------------------------------------ plumbing

    def download(self, url: str) -> bytes:
        """The bytes at a result URL: a presigned S3 URL, which must carry no other credentials."""
        import httpx

        absolute = urljoin(self.endpoints.api_url.rstrip("/") + "/", url)
        try:
            response = self._http.get(absolute)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"Could not download the result from {absolute}: {exc}",
                code="download_failed",
                retryable=True,
            ) from exc
        if not response.is_success:
            raise ApiError(
                f"Downloading the result failed with HTTP {response.status_code}.",
                code="download_failed",
                suggestions=["The link may have expired; ask for the job again to get a new one."],
                http_status=response.status_code,
            )
        return response.content

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str | None] | None = None,
    ) -> Any:
        url = with_query(self.endpoints.api_url.rstrip("/") + path, query)
        token = self.endpoints.token
        return self.send(
            method,
            url,
            api_url=self.endpoints.api_url,
            headers={"Authorization": f"Bearer {token}"} if token else None,
            body=body,
            token_given=bool(token),
        )

    @staticmethod
    def _job(payload: Any) -> JobResponse:
        from sketchbridge.domain.models import JobResponse

        return parse_answer(JobResponse, payload)

    @staticmethod
    def _object(payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise ApiError(
                "The API answered with something that is not an object.", code="bad_response"
            )
        return payload
