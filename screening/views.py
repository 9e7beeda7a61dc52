from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def screening_list(request):
    return render(request, "screening/list.html")
