"""The verdict on a run or bench row, as one type: each status's name, severity and meaning are here and
nowhere else. Whoever sees a thing happen sets its status (the training loop a loss that blew up, the
bench worker an out-of-memory error by its type); nothing reads a status back out of an error's text.

A status is a ``str`` (``StrEnum``), so metrics.json, row.json and results.* keep the strings they held.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from fer_zoo.errors import FerZooError


class Severity(IntEnum):
    """How bad a status is, in order; the bench's sums, the exit status and every colour come from it."""

    OK = 0  # trained and learned
    CUT_SHORT = 1  # learned, but the time box ended it early: its numbers still count
    UNTRAINED = 2  # the time box held not one epoch: nothing to judge
    NOT_LEARNED = 3  # ran and did not learn
    DID_NOT_RUN = 4  # no result at all

    @property
    def counts(self) -> bool:
        """Whether a row's numbers go into the bench's means (and pass ``--strict``)."""
        return self <= Severity.CUT_SHORT

    @property
    def ran(self) -> bool:
        """Whether the row ran at all (a bench where no row ran exits 1)."""
        return self < Severity.DID_NOT_RUN

    @property
    def tone(self) -> str:
        """good, warn or bad: the terminal's green, yellow or red, report.html's status-ok, -warn or -bad."""
        return "good" if self == Severity.OK else "warn" if self <= Severity.UNTRAINED else "bad"


class Status(StrEnum):
    # value, severity, meaning (docs/benchmarks.md's table), note (the bench's status footnote; "" where
    # the name says it)
    OK = ("ok", Severity.OK, "trained its planned epochs and learned", "")
    TIME_BOXED = ("time-boxed", Severity.CUT_SHORT, "learned, but the time box ended it before the planned epochs",
                  "the budget's time box ended training early")
    TOO_SLOW = ("too slow", Severity.UNTRAINED, "not one whole epoch fit in the time box",
                "not one epoch in the time box")
    CHANCE = ("chance", Severity.NOT_LEARNED, "val accuracy no better than always answering the most common val "
              "class, within two standard errors", "no better than the most common class")
    DIVERGED = ("diverged", Severity.NOT_LEARNED, "the training loss became NaN or infinite, or stayed above "
                "twice a uniform guess's while val accuracy stayed at chance", "the loss blew up")
    OUT_OF_MEMORY = ("out of memory", Severity.DID_NOT_RUN, "the device or host ran out of memory, also at half "
                     "the batch", "")
    FAILED = ("failed", Severity.DID_NOT_RUN, "anything else; the reason is the worker's one error line", "")

    def __new__(cls, value: str, severity: Severity, meaning: str, note: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.severity, member.meaning, member.note = severity, meaning, note
        return member


def severity(status: str | None) -> Severity:
    """The severity of a status as a row holds it: a bench row of several seeds holds ``chance/ok``, which is
    as bad as its worst part; a missing or unknown one (a row.json from elsewhere) did not run."""
    parts = [Status._value2member_map_.get(part) for part in (status or "").split("/")]
    return max((p.severity if p is not None else Severity.DID_NOT_RUN for p in parts), default=Severity.DID_NOT_RUN)


def note() -> str:
    """The bench tables' footnote naming every status."""
    return "status: " + " · ".join(f"{s} ({s.note})" if s.note else str(s) for s in Status)


class StatusError(FerZooError):
    """A user-facing error that ends a run with a status of its own (a loss that blew up is ``diverged``)."""

    def __init__(self, status: Status, message: str):
        super().__init__(message)
        self.status = status


# the exception types that mean memory ran out, by name: TensorFlow's, PyTorch's and Ray's live in packages
# this module must not import
_OUT_OF_MEMORY_TYPES = ("ResourceExhaustedError", "OutOfMemoryError")


def out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from (a plugin's build wrapped in a FerZooError), is one
    that means memory ran out: MemoryError, TensorFlow's ResourceExhaustedError, PyTorch's or Ray's
    OutOfMemoryError, or XLA's runtime error with the RESOURCE_EXHAUSTED code (JAX gives it no type of its
    own; the code leads its message)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        names = {k.__name__ for k in type(exc).__mro__}
        if isinstance(exc, MemoryError) or names & set(_OUT_OF_MEMORY_TYPES):
            return True
        if "XlaRuntimeError" in names and str(exc).startswith("RESOURCE_EXHAUSTED"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def status_of(exc: BaseException) -> Status:
    """The status of a row that ended in ``exc``: its own for a StatusError, out of memory by type, else failed."""
    if isinstance(exc, StatusError):
        return exc.status
    return Status.OUT_OF_MEMORY if out_of_memory(exc) else Status.FAILED
