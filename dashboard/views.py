from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from batches.models import Batch, Workspace


@login_required
def home(request):
    workspaces = Workspace.objects.all()
    batches = Batch.objects.select_related("workspace")[:50]
    return render(request, "home.html", {"workspaces": workspaces, "batches": batches})
