"""The sign-in page: local accounts with a lockout after repeated failures, and the SSO button when configured."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from registry import lockout, sso


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked_out": "Too many failed sign-ins for this account. Wait a few minutes, then try again.",
    }

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username") or ""
            if lockout.is_locked(username, lockout.client_ip(self.request)):
                raise ValidationError(self.error_messages["locked_out"], code="locked_out") from None
            raise


class SignInView(auth_views.LoginView):
    form_class = SignInForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "sso_enabled": sso.sso_enabled()}
