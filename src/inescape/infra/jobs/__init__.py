"""Jobs as rows: create, read, list, cancel, retry, and run them exactly once in effect.

Running a job: the runner *claims* the row (a conditional UPDATE that only one worker can win,
with a lease token and expiry), renews the lease while the handler works, and fences every
write with the token. A handler's side effects and its checkpoint commit in one transaction
(``JobContext.unit``), so a worker killed mid-job leaves the last committed chunk and its
checkpoint, and the next claim resumes after it: nothing lost, nothing doubled.

``service`` holds the queries and state changes, ``context`` what a handler holds while it
runs, ``runner`` the claim, lease, retries and outcome.
"""

from inescape.infra.jobs.context import LeaseLost, RunningJob
from inescape.infra.jobs.runner import JobRunner, Send
from inescape.infra.jobs.service import JobNotFound, JobPage, JobService, Observe, view

__all__ = [
    "JobNotFound",
    "JobPage",
    "JobRunner",
    "JobService",
    "LeaseLost",
    "Observe",
    "RunningJob",
    "Send",
    "view",
]
