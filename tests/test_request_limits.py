"""Request bodies over the limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2 MB by
default) are refused before they are read, whatever their type: nothing is
spooled to disk. The body here is produced as it is read, so a 300 MB
request costs nothing unless something reads it."""

import pytest

pytestmark = [pytest.mark.django_db]

MB = 1024 * 1024
DECLARED = 300 * MB


class HugeBody:
    """A request body of `size` bytes, made as it is read; reading more
    than `allowed` of it fails the test at once."""

    def __init__(self, size, allowed=MB):
        self.size, self.allowed, self.read_so_far = size, allowed, 0

    def read(self, amount=-1):
        if amount is None or amount < 0:
            amount = self.size - self.read_so_far
        amount = min(amount, self.size - self.read_so_far)
        self.read_so_far += amount
        assert self.read_so_far <= self.allowed, f"{self.read_so_far:,} bytes of the body were read"
        return b"a" * amount

    def readline(self, limit=-1):
        return self.read(64 * 1024 if limit is None or limit < 0 else min(limit, 64 * 1024))


def post_huge(client, path, content_type):
    body = HugeBody(DECLARED)
    response = client.generic("POST", path, CONTENT_TYPE=content_type, CONTENT_LENGTH=str(DECLARED),
                              **{"wsgi.input": body})
    return response, body


@pytest.mark.parametrize("content_type", [
    "multipart/form-data; boundary=----boundary", "application/x-www-form-urlencoded", "application/octet-stream",
])
@pytest.mark.parametrize("path", ["/accounts/login/", "/screenings/new/", "/admin/conditions/rulecase/add/"])
def test_a_300_mb_post_is_refused_before_it_is_read(lead_client, path, content_type):
    response, body = post_huge(lead_client, path, content_type)
    assert response.status_code == 413
    assert body.read_so_far == 0
    assert "larger than the 2,048 kB this site accepts" in response.content.decode()


def test_a_body_within_the_limit_is_read_as_usual(client):
    response = client.post("/accounts/login/", {"username": "nobody", "password": "x" * (MB // 2)})
    assert response.status_code == 200  # the sign-in page again, saying the password is wrong


def test_a_file_in_a_form_is_refused_not_stored(lead_client, settings, tmp_path):
    """Within the size limit, a file is still refused (no page takes one)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    boundary = "----boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n{'a' * 1000}\r\n--{boundary}--\r\n"
    ).encode()
    response = lead_client.generic("POST", "/admin/conditions/rulecase/add/", body,
                                   content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert list(tmp_path.iterdir()) == []


def test_the_limit_is_the_setting(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post("/accounts/login/", {"username": "nobody", "password": "x" * 2048})
    assert response.status_code == 413
    assert "larger than the 1 kB this site accepts" in response.content.decode()
