from django.apps import AppConfig


class LlmMetadataConfig(AppConfig):
    name = "llm_metadata"
    verbose_name = "LLM Metadata"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals, sqlite_percentile  # noqa: F401  (connect the receivers)
