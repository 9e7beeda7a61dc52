from django.conf import settings
from django.contrib.auth import logout

from accounts.two_factor import session_verified


def second_factor_enforced(get_response):
    """A session of someone who must use two factors but has not passed the
    second (say, made before they became staff, or before
    TWO_FACTOR_FOR_CLINICIANS was turned on) is signed out, and the request
    goes on as anyone signed out's would: to the sign-in page.

    Only what needs no query is checked here (staff, superuser, the
    setting); clinical leads who are not staff cannot reach the admin, which
    checks the group itself (accounts.sites)."""

    def middleware(request):
        user = request.user
        if (
            user.is_authenticated
            and (settings.TWO_FACTOR_FOR_CLINICIANS or user.is_staff or user.is_superuser)
            and not session_verified(request.session)
        ):
            logout(request)
        return get_response(request)

    return middleware
