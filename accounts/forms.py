from django import forms


class CodeForm(forms.Form):
    """A code from an authenticator app (six digits) or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        error_messages={"required": "Enter the code."},
        widget=forms.TextInput(attrs={
            "autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false",
            "autofocus": True,
        }),
    )

    def __init__(self, *args, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = help_text
