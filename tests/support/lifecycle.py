"""In-memory twins of the history and preferences adapters (aws/dynamo_job_history.py,
aws/dynamo_preferences.py), over a FakeJobStore's records."""

from __future__ import annotations

from dataclasses import replace

from sketchbridge.domain.models import JobRecord, JobStatus, PreferencesRecord
from sketchbridge.services.ports import Dependencies, JobPage
from tests.support.fakes import FakeJobStore, FakeProvider, fake_dependencies


class FakeJobHistory:
    def __init__(self, jobs: FakeJobStore) -> None:
        self._jobs = jobs

    def page(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None,
        status: JobStatus | None,
    ) -> JobPage:
        # by_user's order: created_at, then id (a GSI's ties), newest first.
        mine = sorted(
            (record for record in self._jobs.records.values() if record.user_id == user_id),
            key=lambda record: (record.created_at, record.id),
            reverse=True,
        )
        if after is not None:
            mine = [record for record in mine if (record.created_at, record.id) < after]
        matching = [record for record in mine if status is None or record.status is status]
        page = matching[:limit]
        if len(matching) <= limit:
            return JobPage(records=page, after=None)
        return JobPage(records=page, after=(page[-1].created_at, page[-1].id))

    def get_many(self, job_ids: list[str]) -> dict[str, JobRecord]:
        return {
            job_id: self._jobs.records[job_id] for job_id in job_ids if job_id in self._jobs.records
        }

    def delete_finished(self, job_id: str, *, user_id: str) -> JobRecord | None:
        record = self._jobs.records.get(job_id)
        if record is None or record.user_id != user_id or not record.status.is_final:
            return None
        return self._jobs.records.pop(job_id)

    def sketch_used_by_another(self, sketch_key: str, *, job_id: str) -> bool:
        return any(
            record.sketch_key == sketch_key and record.id != job_id
            for record in self._jobs.records.values()
        )

    def result_used_by_another(
        self, result_key: str, *, sketch_key: str, fingerprint: str, job_id: str
    ) -> bool:
        return any(
            record.result_key == result_key
            and record.fingerprint == fingerprint
            and record.sketch_key == sketch_key
            and record.id != job_id
            for record in self._jobs.records.values()
        )


class FakePreferenceStore:
    def __init__(self) -> None:
        self.saved: dict[str, PreferencesRecord] = {}
        self.reads = 0

    def get(self, user_id: str) -> PreferencesRecord | None:
        self.reads += 1
        return self.saved.get(user_id)

    def put(self, record: PreferencesRecord) -> None:
        self.saved[record.user_id] = record

    def delete(self, user_id: str) -> None:
        self.saved.pop(user_id, None)


def lifecycle_dependencies(*, provider: FakeProvider | None = None) -> Dependencies:
    """fake_dependencies with history and preferences wired over the same job store."""
    deps = fake_dependencies(provider=provider)
    assert isinstance(deps.jobs, FakeJobStore)
    return replace(deps, history=FakeJobHistory(deps.jobs), preferences=FakePreferenceStore())
