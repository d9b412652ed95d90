from django.urls import path

from .views import chat, conversations, health, home, json_viewer

app_name = "llm_metadata"

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("ask/", chat.ask, name="ask"),
    path("ask/new/", chat.new_conversation, name="ask-new"),
    path("conversation/", conversations.conversation_list, name="conversation-list"),
    path("conversation/<uuid:pk>/", conversations.conversation_detail, name="conversation-detail"),
    path(
        "conversation/<uuid:pk>/delete/",
        conversations.conversation_delete,
        name="conversation-delete",
    ),
    path("json-viewer/", json_viewer.json_viewer, name="json-viewer"),
]
