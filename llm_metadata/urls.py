from django.urls import path

from .views import analytics as analytics_views
from .views import api_keys as api_key_views
from .views import chat, conversations, gateway, health, home, json_viewer
from .views import exports as export_views
from .views import feedback as feedback_views

app_name = "llm_metadata"

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("ask/", chat.ask, name="ask"),
    path("ask/new/", chat.new_conversation, name="ask-new"),
    path("ask/stream/", chat.ask_stream, name="ask-stream"),
    path("attachment/<int:pk>/", chat.attachment_download, name="attachment-download"),
    path("conversation/", conversations.conversation_list, name="conversation-list"),
    path("conversation/<uuid:pk>/", conversations.conversation_detail, name="conversation-detail"),
    path(
        "conversation/<uuid:pk>/delete/",
        conversations.conversation_delete,
        name="conversation-delete",
    ),
    path(
        "conversation/<uuid:pk>/rename/",
        conversations.conversation_rename,
        name="conversation-rename",
    ),
    path("json-viewer/", json_viewer.json_viewer, name="json-viewer"),
    path("json-viewer/download/", json_viewer.json_download, name="json-viewer-download"),
    # Analytics, feedback, export and import.
    path("analytics/", analytics_views.analytics_page, name="analytics"),
    path("message/<int:pk>/feedback/", feedback_views.message_feedback, name="message-feedback"),
    path("conversation/import/", export_views.conversation_import, name="conversation-import"),
    path(
        "conversation/<uuid:pk>/export/<str:fmt>/",
        export_views.conversation_export,
        name="conversation-export",
    ),
    path("export/messages.<str:fmt>", export_views.messages_export, name="messages-export"),
    # The recording gateway (bearer keys) and the keys' page.
    path("v1/models", gateway.models, name="gateway-models"),
    path("v1/chat/completions", gateway.chat_completions, name="gateway-chat-completions"),
    path("account/keys/", api_key_views.api_keys, name="api-keys"),
    path("account/keys/<int:pk>/revoke/", api_key_views.api_key_revoke, name="api-key-revoke"),
]
