"""What an Odoo test run says about itself, read from its log.

Odoo 19 logs one line per failed or erroring test (``FAIL: Class.test`` or ``ERROR:
Class.test``, at level ERROR, from the test's module logger) followed by its traceback,
and one summary per database: ``N failed, N error(s) of N tests when loading database``.
A build keeps the numbers and, for each failure, the test's name and its traceback, so
an administrator reads what broke without opening the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ ")
FAILURE = re.compile(
    r" (?:ERROR|CRITICAL) \S+ odoo\.addons\.(?P<module>\w+)[\w.]*: "
    r"(?P<kind>FAIL|ERROR): (?P<test>[\w.]+)"
)
SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
TESTS_RAN = re.compile(r"odoo\.tests\.stats: (\w+): (\d+) tests ")
MAX_TRACEBACK = 8000  # characters kept per failure


@dataclass(frozen=True)
class TestFailure:
    module: str
    test: str  # Class.test_method
    kind: str  # "fail" (an assertion) or "error" (an exception)
    traceback: str


@dataclass
class TestReport:
    ran: int = 0
    failed: int = 0
    errors: int = 0
    failures: list[TestFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.ran > 0 and not self.failed and not self.errors


def parse_test_log(log: str) -> TestReport:
    """The tests run, failed and in error, with each failure's name and traceback."""
    report = TestReport()
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if summary := SUMMARY.search(line):
            failed, errors, ran = map(int, summary.groups())
            report.failed, report.errors, report.ran = failed, errors, max(report.ran, ran)
        elif found := FAILURE.search(line):
            report.failures.append(
                TestFailure(
                    module=found["module"],
                    test=found["test"],
                    kind=found["kind"].lower(),
                    traceback=_traceback(lines, index + 1),
                )
            )
    if not report.ran:  # no summary line: count what the per-module statistics say
        report.ran = sum(int(m[2]) for line in lines if (m := TESTS_RAN.search(line)))
    return report


def _traceback(lines: list[str], start: int) -> str:
    """The lines after a failure's line, up to the next log line."""
    kept = []
    for line in lines[start:]:
        if LOG_LINE.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()[:MAX_TRACEBACK]
