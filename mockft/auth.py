"""API keys and the organizations they belong to."""

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


class KeyRing:
    """With no configured keys any bearer key is accepted and belongs to the default
    organization; configured keys are `KEY` (default organization) or `KEY=org-name`."""

    def __init__(self, keys: tuple[str, ...], default_org: str) -> None:
        self.default = Organization.named(default_org)
        self._orgs: dict[str, Organization] = {}
        for entry in keys:
            key, _, org = entry.partition("=")
            self._orgs[key] = Organization.named(org) if org else self.default
        self._by_id = {o.id: o for o in [self.default, *self._orgs.values()]}

    def organization(self, org_id: str) -> Organization:
        """The organization with this id (one no longer configured keeps its id)."""
        return self._by_id.get(org_id) or Organization(id=org_id, name=self.default.name)

    def authenticate(
        self, authorization: str | None, organization: str | None = None
    ) -> Organization:
        """The organization a request acts for. With configured keys, an
        `OpenAI-Organization` header (`organization`) must name the key's own organization
        id, as on the real API; with any key accepted there is no identity to compare."""
        if not authorization or not authorization.lower().startswith(BEARER):
            raise errors.missing_api_key()
        key = authorization[len(BEARER) :].strip()
        if not key:
            raise errors.missing_api_key()
        if not self._orgs:
            return self.default
        org = self._orgs.get(key)
        if org is None:
            raise errors.incorrect_api_key(key)
        named = (organization or "").strip()
        if named and named != org.id:
            raise errors.mismatched_organization()
        return org
