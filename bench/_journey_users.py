"""The clinicians of the journey load test (bench/journey.py), for Locust.

Imports no Django: bench/journey.py prepares everything a clinician needs
in a JSON file named by BENCH_JOURNEY_PLAN (the users and their passwords,
and the answers of a few screenings, section by section, as form fields),
and reads back BENCH_JOURNEY_DONE (one line per finalised screening: its
id and the plan it followed) to check that no final lost an answer.

Each simulated clinician signs in once with a user of its own, then screens
patient after patient: new screening, the questionnaire section by section
(each a full form post, as a browser without JavaScript sends it: the
answers given so far, "Save draft", the last one "Show summary"), the
summary, finalise, the PDF. It pauses 1-3 s between steps, as a reader
would. A step that does not end where a browser would land (a redirect to
the next page, the message that it worked) is a failure.
"""

import itertools
import json
import os
import random
import re

from locust import HttpUser, between, task

PLAN = json.loads(open(os.environ["BENCH_JOURNEY_PLAN"]).read())  # noqa: SIM115 (read once at import)
DONE = os.environ["BENCH_JOURNEY_DONE"]
USERS = itertools.count()
PATIENTS = itertools.count()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REVISION = re.compile(r'name="revision" value="(\d+)"')
QUESTIONNAIRE = re.compile(r"/screenings/(\d+)/questionnaire/$")


def _field(pattern, html):
    match = pattern.search(html)
    return match.group(1) if match else None


class Clinician(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        user = PLAN["users"][next(USERS) % len(PLAN["users"])]
        self.prefix = f"J{os.getpid()}-{user['username'][-3:]}"
        page = self.client.get("/accounts/login/", name="sign in (form)")
        with self.client.post("/accounts/login/", name="sign in", catch_response=True, data={
            "csrfmiddlewaretoken": _field(CSRF, page.text) or "",
            "username": user["username"], "password": user["password"],
        }) as response:
            if not response.history or "/accounts/login/" in response.url:
                response.failure(f"not signed in: {response.status_code} at {response.url}")

    def pause(self):
        self.wait()  # 1-3 s, as a reader between steps

    @task
    def screening(self):
        plan_index = random.randrange(len(PLAN["plans"]))
        plan = PLAN["plans"][plan_index]
        self.pause()
        page = self.client.get("/screenings/new/", name="new screening (form)")
        self.pause()
        with self.client.post("/screenings/new/", name="new screening", catch_response=True, data={
            "csrfmiddlewaretoken": _field(CSRF, page.text) or "",
            "patient_reference": f"{self.prefix}-{next(PATIENTS):05d}",
            "year_of_birth": plan["year_of_birth"], "conditions": plan["conditions"],
        }) as response:
            match = QUESTIONNAIRE.search(response.url)
            if match is None:
                response.failure(f"no questionnaire after the new screening: {response.url}")
                return
        pk, page = match.group(1), response
        sections = plan["sections"]
        posted = []
        for number, fields in enumerate(sections, start=1):
            posted += fields  # a full form: the answers so far, the later sections blank
            last = number == len(sections)
            self.pause()
            data = [("csrfmiddlewaretoken", _field(CSRF, page.text) or ""),
                    ("revision", _field(REVISION, page.text) or ""),
                    *posted, ("action", "summary" if last else "save")]
            name = "questionnaire: show summary" if last else "questionnaire: save a section"
            with self.client.post(f"/screenings/{pk}/questionnaire/", data=data, name=name,
                                  catch_response=True) as response:
                expected = f"/screenings/{pk}/" if last else f"/screenings/{pk}/questionnaire/"
                if not response.history or not response.url.endswith(expected):
                    response.failure(f"not saved (section {number}): {response.status_code} at {response.url}")
                    return
            page = response
        # `page` is the summary, with the finalise form.
        self.pause()
        with self.client.post(f"/screenings/{pk}/finalise/", name="finalise", catch_response=True, data={
            "csrfmiddlewaretoken": _field(CSRF, page.text) or "", "revision": _field(REVISION, page.text) or "",
            "confirm": "on", "reason": "Load test: finalised as it stands.",
        }) as response:
            if "Screening finalised" not in response.text:
                response.failure(f"not finalised: {response.status_code} at {response.url}")
                return
        self.pause()
        with self.client.get(f"/screenings/{pk}/pdf/", name="download the PDF", catch_response=True) as response:
            if response.headers.get("Content-Type") != "application/pdf":
                response.failure(f"no PDF: {response.status_code}")
                return
        with open(DONE, "a") as done:
            done.write(json.dumps({"screening": int(pk), "plan": plan_index}) + "\n")
