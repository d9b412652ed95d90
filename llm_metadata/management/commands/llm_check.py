"""`manage.py llm_check`: show the configured endpoint and its models, then make one short call."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from llm_metadata.catalog import available_models, default_model, endpoint, profile_for
from llm_metadata.llm import ChatRequest, LLMError, chat, list_models
from llm_metadata.models import ModelProfile


def _count(value: int | None) -> str:
    return "not reported" if value is None else str(value)


class Command(BaseCommand):
    help = "Show the LLM endpoint, kind and models, then make one short call and print its reply."
    # A diagnostic: it must run even while an unrelated part of the project fails its checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="model to call (default: the first one offered)")
        parser.add_argument("--prompt", default="Say hello in five words.")
        parser.add_argument("--max-tokens", type=int, default=32)

    def handle(self, *args: Any, **options: Any) -> None:
        out = self.stdout.write
        target = endpoint()
        if target.is_demo:
            out("Endpoint: none (API_URL is unset), so the offline demo model answers.")
            out("Set API_URL (and API_KIND, API_KEY where needed) to use a real model.")
        else:
            out(f"Endpoint: {target.display_url}")
            out(f"Kind: {target.kind}")
            out(f"API key: {'set' if target.key else 'not set'}")
            try:
                listed = list_models(target)
                out(f"Models at the endpoint: {', '.join(listed) or 'none listed'}")
            except LLMError as exc:
                out(self.style.WARNING(f"Model list unavailable: {exc.message}"))
        names, source = available_models()
        out(f"Models offered ({source}): {', '.join(names)}")

        try:
            model = options["model"] or default_model()
            profile = profile_for(model)
        except DatabaseError:
            out(self.style.WARNING("The database is not ready (run migrate): using defaults."))
            model = options["model"] or names[0]
            profile = ModelProfile(name=model)
        request = ChatRequest(
            model=model,
            messages=[{"role": "user", "content": options["prompt"]}],
            temperature=0.0,
            top_k=profile.default_top_k,
            top_p=profile.default_top_p,
            max_tokens=options["max_tokens"],
            context_length=profile.context_length,
        )
        out(f"Calling {model} ...")
        result = chat(target, request)
        if result.error:
            raise CommandError(f"The call failed: {result.error}")
        out(f"Reply: {result.text.strip()}")
        out(
            f"Tokens: prompt {_count(result.prompt_tokens)}, "
            f"completion {_count(result.completion_tokens)}, total {_count(result.total_tokens)}"
        )
        ttft = result.time_to_first_token
        first = "" if ttft is None else f" (first token after {ttft:.3f} s)"
        out(f"Latency: {result.elapsed:.3f} s{first}")
        out(f"Finish reason: {result.finish_reason or 'not reported'}")
        out(self.style.SUCCESS("OK"))
