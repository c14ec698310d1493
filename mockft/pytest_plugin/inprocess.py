"""The `mockft` fixture's handle: a fresh app in this process (manual clock, memory store, or
any `Settings`) reached through in-process transports, without sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockft.pytest_plugin.controls import MockFTControls
from mockft.pytest_plugin.options import MockFTOptions

if TYPE_CHECKING:
    from openai import AsyncOpenAI, AzureOpenAI, OpenAI

    from mockft.config import Settings
    from mockft.transport import Family, Portal

# The in-process app's address: never resolved, nothing leaves the process.
IN_PROCESS_ROOT = "http://mockft.test"
API_PREFIX = "/v1"


class MockFT(MockFTControls):
    """The `mockft` fixture's handle: an app in this process, reached without sockets."""

    root_url = IN_PROCESS_ROOT
    base_url = IN_PROCESS_ROOT + API_PREFIX

    def __init__(
        self, options: MockFTOptions | None = None, *, settings: Settings | None = None
    ) -> None:
        """An app of `options` (memory store), or of `settings` as given (e.g. a data dir,
        API keys): the same app `mockft serve` would run with them."""
        from mockft.app import create_app
        from mockft.service import Service
        from mockft.transport import Portal

        if settings is None:
            self.options = options or MockFTOptions()
            settings = self.options.settings()
        else:
            self.options = options or MockFTOptions.of(settings)
        self.service = Service.open(settings)
        self.app = create_app(settings, self.service)
        self._portal: Portal = Portal()
        self._closers: list[Any] = []
        self._family: Family | None = None

    @property
    def family(self) -> Family:
        """The HTTP client family of the installed openai SDK (`httpx` or `httpx2`)."""
        if self._family is None:
            from mockft.transport import sdk_family

            self._family = sdk_family()
        return self._family

    def http_client(self, *, family: Family | None = None, **kwargs: Any) -> Any:
        """A sync client of the SDK's family (`httpx.Client` or `httpx2.Client`; or of
        `family`) with this app's root as base URL and the API key set: for raw and
        control-API requests. Keywords go to the client (`base_url`, `headers`,
        `event_hooks`, `timeout`, ...)."""
        from mockft.transport import family_module, transport

        family = family or self.family
        kwargs.setdefault("base_url", IN_PROCESS_ROOT)
        kwargs.setdefault("headers", {"Authorization": f"Bearer {self.api_key}"})
        client = family_module(family).Client(
            transport=transport(self.app, self._portal, family), **kwargs
        )
        self._closers.append(client.close)
        return client

    def openai(self, **kwargs: Any) -> OpenAI:
        """The official SDK client, wired to this app in-process. Keywords go to
        `openai.OpenAI` (e.g. `max_retries`, `timeout`; an `http_client` given must come
        from `http_client()`, to stay in-process)."""
        import openai

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        if "http_client" not in kwargs:
            kwargs["http_client"] = self._sdk_http_client()
        client = openai.OpenAI(**kwargs)
        self._closers.append(client.close)
        return client

    def azure_openai(self, **kwargs: Any) -> AzureOpenAI:
        """The SDK's `AzureOpenAI` client on this app's Azure paths, wired in-process: the key
        in the `api-key` header (or pass `azure_ad_token=`), the newest GA `api_version`.
        Keywords go to `openai.AzureOpenAI`. See docs/azure.md."""
        import openai

        from mockft.azure.versions import LATEST_GA

        if "http_client" not in kwargs:
            kwargs["http_client"] = self._sdk_http_client()
        if "azure_ad_token" not in kwargs and "azure_ad_token_provider" not in kwargs:
            kwargs.setdefault("api_key", self.api_key)
        if "base_url" not in kwargs:
            kwargs.setdefault("azure_endpoint", IN_PROCESS_ROOT)
        kwargs.setdefault("api_version", LATEST_GA)
        client = openai.AzureOpenAI(**kwargs)
        self._closers.append(client.close)
        return client

    def async_openai(self, **kwargs: Any) -> AsyncOpenAI:
        """The async SDK client, wired to this app on the caller's event loop."""
        import openai

        from mockft.transport import async_transport

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        if "http_client" not in kwargs:
            transport = async_transport(self.app, self.family)
            kwargs["http_client"] = openai.DefaultAsyncHttpxClient(transport=transport)
        return openai.AsyncOpenAI(**kwargs)

    def _sdk_http_client(self) -> Any:
        """The SDK's default sync HTTP client, on the in-process transport."""
        import openai

        from mockft.transport import transport

        return openai.DefaultHttpxClient(transport=transport(self.app, self._portal, self.family))

    def close(self) -> None:
        """Close the clients, stop the helper event loop, close the service (what the app's
        lifespan does on shutdown)."""
        try:
            for close in reversed(self._closers):
                close()
            self._closers.clear()
            self._portal.close()
        finally:
            self.service.close()
