from django.urls import path

from .views import analytics as analytics_views
from .views import api_keys as api_key_views
from .views import chat, conversations, gateway, health, home, json_viewer, shares
from .views import compare as compare_views
from .views import exports as export_views
from .views import feedback as feedback_views
from .views import versions as version_views

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
    path(
        "message/<int:pk>/regenerate/",
        version_views.message_regenerate,
        name="message-regenerate",
    ),
    path("message/<int:pk>/edit/", version_views.message_edit, name="message-edit"),
    path("message/<int:pk>/select/", version_views.message_select, name="message-select"),
    path("message/<int:pk>/feedback/", feedback_views.message_feedback, name="message-feedback"),
    path("conversation/import/", export_views.conversation_import, name="conversation-import"),
    path(
        "conversation/<uuid:pk>/export/<str:fmt>/",
        export_views.conversation_export,
        name="conversation-export",
    ),
    path("export/messages.<str:fmt>", export_views.messages_export, name="messages-export"),
    # Comparisons: one question to two to four models side by side, and votes.
    path("compare/", compare_views.compare_page, name="compare"),
    path("compare/stream/", compare_views.compare_stream, name="compare-stream"),
    path("compare/<uuid:pk>/", compare_views.comparison_detail, name="comparison-detail"),
    path("compare/<uuid:pk>/stream/", compare_views.comparison_stream, name="comparison-stream"),
    path("compare/<uuid:pk>/vote/", compare_views.comparison_vote, name="comparison-vote"),
    # Share links (issue 15).
    path("conversation/<uuid:pk>/share/", shares.share_create, name="conversation-share"),
    path(
        "conversation/<uuid:pk>/share/revoke/",
        shares.share_revoke,
        name="conversation-share-revoke",
    ),
    path("s/<str:token>/", shares.shared_conversation, name="shared-conversation"),
    path("account/shares/", shares.account_shares, name="account-shares"),
    # The recording gateway (bearer keys) and the keys' page.
    path("v1/models", gateway.models, name="gateway-models"),
    path("v1/chat/completions", gateway.chat_completions, name="gateway-chat-completions"),
    path("account/keys/", api_key_views.api_keys, name="api-keys"),
    path("account/keys/<int:pk>/revoke/", api_key_views.api_key_revoke, name="api-key-revoke"),
]
