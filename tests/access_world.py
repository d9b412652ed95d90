"""The access matrix's world: every named URL of the project, personas, and real objects.

`named_urls()` walks the URL resolver (namespaces included); `World` creates the personas
(owner, another user, staff without permissions, superuser) and one object of every kind a URL
can name, all owned by or about the owner, and fills a URL's arguments with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from llm_metadata import sharing
from llm_metadata.api_keys import create_key
from llm_metadata.compare_models import Comparison, ComparisonColumn, Vote
from llm_metadata.models import Conversation, Feedback, Message, ModelProfile
from llm_metadata.share_models import ShareLink
from tests.factories import make_conversation, make_turn

PERSONAS = ("anonymous", "owner", "other", "staff", "superuser")
SECRET = "owner-only-text-7f3a"  # the owner's conversation title, question and answer
METHODS = ("get", "post")


@dataclass(frozen=True)
class NamedURL:
    name: str  # with its namespace, as reverse() takes it
    arguments: tuple[str, ...]


def named_urls() -> list[NamedURL]:
    """Every named URL pattern of the project (the first of two with the same name)."""
    found: dict[str, NamedURL] = {}

    def walk(resolver: URLResolver, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(part for part in (namespace, entry.namespace or "") if part)
                walk(entry, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                pattern = entry.pattern
                arguments = getattr(pattern, "converters", {}) or pattern.regex.groupindex
                found.setdefault(name, NamedURL(name, tuple(arguments)))

    walk(get_resolver(), "")
    return list(found.values())


class World:
    """The personas and the owner's objects, created in the test's database."""

    def __init__(self) -> None:
        # Hashing four passwords per URL was most of the matrix's time: the test sets a fast
        # hasher (the password pages need users that have one).
        password = "matrix-Password-42"
        self.owner = User.objects.create_user("owner", "owner@example.com", password)
        self.other = User.objects.create_user("other", "other@example.com", password)
        self.staff = User.objects.create_user("staff", "staff@example.com", password, is_staff=True)
        self.superuser = User.objects.create_superuser("root", "root@example.com", password)
        self.conversation = make_conversation(self.owner, title=SECRET)
        self.question, self.answer = make_turn(self.conversation, question=SECRET, answer=SECRET)
        self.question.attachment.save("notes.txt", ContentFile(b"notes"), save=True)
        self.question.attachment_name = "notes.txt"
        self.question.save()
        self.comparison = Comparison.objects.create(
            owner=self.owner, question=SECRET, temperature=0.5, top_k=40, top_p=0.9, max_tokens=9
        )
        for position in (0, 1):
            ComparisonColumn.objects.create(
                comparison=self.comparison,
                position=position,
                model_name=f"model-{position}",
                conversation=make_conversation(self.owner, title=SECRET),
            )
        self.share_link = sharing.publish(
            conversation=self.conversation,
            snapshot=sharing.build_snapshot(self.conversation, sharing.Choices()),
            choices=sharing.Choices(),
            expires=None,
        )
        self.api_key = create_key(owner=self.owner, name=SECRET)[0]
        app = SocialApp.objects.create(provider="github", name="GitHub", client_id="i", secret="s")
        account = SocialAccount.objects.create(user=self.owner, provider="github", uid="7")
        self.objects: dict[type, Any] = {
            Conversation: self.conversation,
            Comparison: self.comparison,
            Vote: Vote.objects.create(comparison=self.comparison, choice="a", blind=False),
            Message: self.answer,
            Feedback: Feedback.objects.create(message=self.answer, user=self.owner, rating=1),
            ShareLink: self.share_link,
            ModelProfile: ModelProfile.objects.create(name="llama3"),
            User: self.owner,
            Group: Group.objects.create(name="team"),
            EmailAddress: EmailAddress.objects.create(user=self.owner, email="owner@example.com"),
            SocialApp: app,
            SocialAccount: account,
            SocialToken: SocialToken.objects.create(app=app, account=account, token="t"),
        }

    def client(self, persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(getattr(self, persona))
        return client

    def url(self, named: NamedURL) -> str:
        """The URL with its arguments filled in from the owner's objects."""
        kwargs = {argument: self._argument(named.name, argument) for argument in named.arguments}
        return reverse(named.name, kwargs=kwargs)

    def _argument(self, name: str, argument: str) -> Any:
        simple = {
            "llm_metadata:attachment-download": self.question.pk,
            "llm_metadata:message-feedback": self.answer.pk,
            "llm_metadata:message-regenerate": self.answer.pk,
            "llm_metadata:message-edit": self.question.pk,
            "llm_metadata:message-select": self.answer.pk,
            "admin:auth_user_password_change": self.owner.pk,
            "llm_metadata:api-key-revoke": self.api_key.pk,
        }
        if name in simple:
            return simple[name]
        if argument == "pk" and name.startswith("llm_metadata:comparison-"):
            return self.comparison.pk
        if argument == "token":
            return self.share_link.token
        if argument == "pk":
            return self.conversation.pk
        if argument == "fmt":
            return "csv" if name == "llm_metadata:messages-export" else "json"
        if argument == "content_type_id":
            return ContentType.objects.get_for_model(Conversation).pk
        if argument == "object_id" and name == "admin:view_on_site":
            return self.conversation.pk
        if argument == "object_id":
            return self._admin_object(name).pk
        if argument == "app_label":
            return "llm_metadata"
        return {"key": "nokey", "uidb36": "1"}[argument]

    def _admin_object(self, name: str) -> Any:
        """admin:<app>_<model>_<view>: the world's object of that model."""
        for model, instance in self.objects.items():
            prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
            if name.startswith(prefix):
                return instance
        raise LookupError(f"{name}: add an object of its model to World.objects")


def body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def outcome(response: Any) -> int | str:
    """A response as the matrix writes it: a status code, or where a redirect goes
    ("login": the site's login page; "admin-login": the admin's; "redirect": elsewhere)."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return response.status_code
    location = response["Location"]
    if location.startswith(reverse("account_login")):
        return "login"
    if location.startswith(reverse("admin:login")):
        return "admin-login"
    return "redirect"
