"""API keys, control keys, and the organizations they belong to.

- No keys configured: any bearer key is accepted and belongs to the default organization.
- `--api-key KEY` (default organization) or `KEY=org-name`: only these keys reach `/v1`,
  each in its organization.
- `--control-key KEY`: reaches the control API (`/mockft/`) with authority over every
  organization and over the shared clock. It is not an API key: `/v1` refuses it.

On the control API an ordinary key acts for its own organization only (reset, chaos, the
request log and job interventions of that organization). Where no control key is
configured and the server has one organization only (no keys, or every key in one
organization), an ordinary key already sees everything there is, and may do everything a
control key may: a private test server stays as open as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockft import errors, synth

ORG_PREFIX = "org-"
BEARER = "bearer "


@dataclass(frozen=True)
class Organization:
    id: str
    name: str

    @classmethod
    def named(cls, name: str) -> Organization:
        return cls(id=synth.make_id(ORG_PREFIX, "organization", name), name=name)


@dataclass(frozen=True)
class Caller:
    """Who is asking the control API: an organization, and whether the key reaches every
    organization (and the shared clock) or only its own."""

    org: Organization
    control: bool

    def sees(self, org_id: str) -> bool:
        return self.control or org_id == self.org.id

    @property
    def scope(self) -> str | None:
        """The organization id the caller is limited to; None for every organization."""
        return None if self.control else self.org.id


class KeyRing:
    """Configured keys are `KEY` (default organization) or `KEY=org-name`; control keys
    are separate (see the module docstring)."""

    def __init__(
        self, keys: tuple[str, ...], default_org: str, control_keys: tuple[str, ...] = ()
    ) -> None:
        self.default = Organization.named(default_org)
        self._orgs: dict[str, Organization] = {}
        for entry in keys:
            key, _, org = entry.partition("=")
            self._orgs[key] = Organization.named(org) if org else self.default
        self._control_keys = frozenset(control_keys)
        self._by_id = {o.id: o for o in [self.default, *self._orgs.values()]}
        orgs = {o.id for o in self._orgs.values()} or {self.default.id}
        self._single_org = len(orgs) == 1

    @property
    def open(self) -> bool:
        """Any key is accepted on /v1."""
        return not self._orgs

    def organization(self, org_id: str) -> Organization:
        """The organization with this id (one no longer configured keeps its id)."""
        return self._by_id.get(org_id) or Organization(id=org_id, name=self.default.name)

    def root(self) -> Caller:
        """The caller the pytest handle and the CLI act as: every organization."""
        return Caller(self.default, control=True)

    def authenticate(
        self, authorization: str | None, organization: str | None = None
    ) -> Organization:
        """The organization a request acts for (/v1). With configured keys, an
        `OpenAI-Organization` header (`organization`) must name the key's own organization
        id, as on the real API; with any key accepted there is no identity to compare."""
        key = _bearer(authorization)
        if not self._orgs:
            if key in self._control_keys:
                raise errors.incorrect_api_key(key)
            return self.default
        org = self._orgs.get(key)
        if org is None:
            raise errors.incorrect_api_key(key)
        named = (organization or "").strip()
        if named and named != org.id:
            raise errors.mismatched_organization()
        return org

    def authenticate_control(
        self, authorization: str | None, organization: str | None = None
    ) -> Caller:
        """The caller of the control API (/mockft/)."""
        key = _bearer(authorization)
        if key in self._control_keys:
            return Caller(self.default, control=True)
        org = self.authenticate(authorization, organization)
        return Caller(org, control=self._single_org and not self._control_keys)


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith(BEARER):
        raise errors.missing_api_key()
    key = authorization[len(BEARER) :].strip()
    if not key:
        raise errors.missing_api_key()
    return key
