from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def home(request: HttpRequest) -> HttpResponse:
    """Landing page; signed-in users go straight on to the chat."""
    if request.user.is_authenticated:
        return redirect("llm_metadata:ask")
    return render(request, "llm_metadata/home.html")
