"""API keys, admin keys, control keys, and the organizations and projects they belong to.

- No keys configured: any bearer key is accepted and belongs to the default organization;
  an `OpenAI-Project` header names the project it acts in (there is no identity to compare).
- `--api-key KEY` (default organization), `KEY=org-name`, or `KEY=org-name/PROJECT_ID`: only
  these keys reach `/v1`, each in its organization. A key with a project is a project key:
  it acts in that project, and an `OpenAI-Project` header naming another is refused. A key
  without one is a user key: it acts in its organization's default project, or in the
  project of its organization that an `OpenAI-Project` header names.
- `--admin-key KEY=org-name`: an admin key of that organization, for the endpoints that
  require one (checkpoint permissions); every other `/v1` endpoint refuses it for want of
  the scope, as the real API does. A server with neither API keys nor admin keys lets any
  key use the admin endpoints too (a private test server stays open).
- `--control-key KEY`: reaches the control API (`/mockft/`) with authority over every
  organization and over the shared clock. It is not an API key: `/v1` refuses it.

On the control API an ordinary (or admin) key acts for its own organization only (reset,
chaos, webhooks, the request log and job interventions of that organization). Where no
control key is configured and the server has one organization only (no keys, or every key
in one organization), an ordinary key already sees everything there is, and may do
everything a control key may: a private test server stays as open as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockft import errors, synth
from mockft.config import parse_key

ORG_PREFIX = "org-"
BEARER = "bearer "
# Paths whose operations require an admin key, and the scope each operation needs (what the
# real 401 names). Every other /v1 operation needs a scope an admin key does not have.
ADMIN_PATHS = ("/v1/fine_tuning/checkpoints/",)
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Organization:
    id: str
    name: str

    @classmethod
    def named(cls, name: str) -> Organization:
        return cls(id=synth.make_id(ORG_PREFIX, "organization", name), name=name)


@dataclass(frozen=True)
class Identity:
    """Who a /v1 request acts as: an organization, the project it acts in (None: the
    organization's default project), and whether the key is an admin key."""

    org: Organization
    project: str | None = None
    admin: bool = False


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
    """Configured keys are `KEY` (default organization), `KEY=org-name` or
    `KEY=org-name/PROJECT_ID`; admin and control keys are separate (see the module
    docstring)."""

    def __init__(
        self,
        keys: tuple[str, ...],
        default_org: str,
        control_keys: tuple[str, ...] = (),
        admin_keys: tuple[str, ...] = (),
    ) -> None:
        self.default = Organization.named(default_org)
        self._keys: dict[str, Identity] = {}  # each key acts as one identity
        self._projects: dict[str, set[str]] = {}
        for entry in keys:
            key, org_name, project = parse_key(entry)
            org = Organization.named(org_name) if org_name else self.default
            self._keys[key] = Identity(org, project)
            if project is not None:
                self._projects.setdefault(org.id, set()).add(project)
        self._admin: dict[str, Identity] = {}
        for entry in admin_keys:
            key, org_name, _ = parse_key(entry)
            org = Organization.named(org_name) if org_name else self.default
            self._admin[key] = Identity(org, admin=True)
        self._control_keys = frozenset(control_keys)
        everyone = [self.default, *(k.org for k in (*self._keys.values(), *self._admin.values()))]
        self._by_id = {o.id: o for o in everyone}
        orgs = {k.org.id for k in (*self._keys.values(), *self._admin.values())}
        self._single_org = len(orgs or {self.default.id}) == 1

    @property
    def open(self) -> bool:
        """Any key is accepted on /v1."""
        return not self._keys

    @property
    def admin_open(self) -> bool:
        """Any key may use the admin endpoints: /v1 is open and no admin key is configured."""
        return not self._keys and not self._admin

    def organization(self, org_id: str) -> Organization:
        """The organization with this id (one no longer configured keeps its id)."""
        return self._by_id.get(org_id) or Organization(id=org_id, name=self.default.name)

    def projects(self, org_id: str) -> frozenset[str]:
        """The projects the configured keys name in an organization."""
        return frozenset(self._projects.get(org_id, ()))

    def root(self) -> Caller:
        """The caller the pytest handle and the CLI act as: every organization."""
        return Caller(self.default, control=True)

    def authenticate(
        self, authorization: str | None, organization: str | None = None
    ) -> Organization:
        """The organization a request acts for (/v1)."""
        return self.identify(authorization, organization).org

    def identify(
        self,
        authorization: str | None,
        organization: str | None = None,
        project: str | None = None,
    ) -> Identity:
        """Who a /v1 request acts as. With configured keys, an `OpenAI-Organization` header
        (`organization`) must name the key's own organization id, and an `OpenAI-Project`
        header (`project`) the key's project (a project key) or a project of its
        organization (a user key), as on the real API; with any key accepted there is no
        identity to compare, and the header names the project."""
        key = _bearer(authorization)
        named_project = (project or "").strip() or None
        admin = self._admin.get(key)
        if admin is not None:
            _check_organization(organization, admin.org)
            return admin
        if not self._keys:
            if key in self._control_keys:
                raise errors.incorrect_api_key(key)
            return Identity(self.default, named_project)
        found = self._keys.get(key)
        if found is None:
            raise errors.incorrect_api_key(key)
        _check_organization(organization, found.org)
        if found.project is not None:
            if named_project is not None and named_project != found.project:
                raise errors.mismatched_project()
            return found
        if named_project is not None and named_project not in self.projects(found.org.id):
            raise errors.mismatched_project()
        return Identity(found.org, named_project)

    def authorize(self, identity: Identity, method: str, path: str) -> None:
        """Refuse a key without the scope the operation needs, as the real API does: a
        non-admin key on an admin endpoint, an admin key on any other."""
        admin_path = path.startswith(ADMIN_PATHS)
        if admin_path and not (identity.admin or self.admin_open):
            raise errors.missing_scopes(admin_scope(method))
        if identity.admin and not admin_path:
            raise errors.missing_scopes(api_scope(method, path))

    def authenticate_control(
        self, authorization: str | None, organization: str | None = None
    ) -> Caller:
        """The caller of the control API (/mockft/)."""
        key = _bearer(authorization)
        if key in self._control_keys:
            return Caller(self.default, control=True)
        org = self.authenticate(authorization, organization)
        return Caller(org, control=self._single_org and not self._control_keys)


def admin_scope(method: str) -> str:
    """The scope of a checkpoint-permission operation (the real 401 names
    `api.fine_tuning.checkpoints.write` for a create)."""
    return "api.fine_tuning.checkpoints." + ("read" if method in READ_METHODS else "write")


# The scope each family of /v1 operations needs, by path prefix: `model.request` (calling a
# model) and `api.model.read` are the names the real 401s give an admin key; the others
# follow the same pattern.
API_SCOPES = (
    ("/v1/chat/completions", "model.request", "model.request"),
    ("/v1/completions", "model.request", "model.request"),
    ("/v1/models", "api.model.read", "api.model.write"),
    ("/v1/files", "api.files.read", "api.files.write"),
    ("/v1/uploads", "api.files.read", "api.files.write"),
    ("/v1/fine_tuning/", "api.fine_tuning.jobs.read", "api.fine_tuning.jobs.write"),
)


def api_scope(method: str, path: str) -> str:
    for prefix, read, write in API_SCOPES:
        if path.startswith(prefix):
            return read if method in READ_METHODS else write
    return "model.request"


def _check_organization(organization: str | None, org: Organization) -> None:
    named = (organization or "").strip()
    if named and named != org.id:
        raise errors.mismatched_organization()


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith(BEARER):
        raise errors.missing_api_key()
    key = authorization[len(BEARER) :].strip()
    if not key:
        raise errors.missing_api_key()
    return key
