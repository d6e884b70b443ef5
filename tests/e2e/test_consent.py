"""Guardian consent in a real browser: a therapist requests, a guardian signs in Spanish with
per-scope choices and a drawn signature, downloads the PDF, withdraws one permission, and the
therapist's view changes."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.helpers import DEMO_PASSWORD, GUARDIAN_SPANISH, assert_accessible, sign_in

THERAPIST_BOTH = "sam.okafor@riverbend.example"  # Ava Garcia (Maria Garcia's child) is on this caseload
STUDENT = "Ava Garcia"


def test_request_sign_in_spanish_download_and_revoke(browser, context, page, base_url, browser_errors):
    # 1. The therapist requests consent from the student's record.
    sign_in(page, base_url, THERAPIST_BOTH)
    page.get_by_role("link", name=STUDENT).click()
    page.get_by_role("link", name="Request consent").click()
    expect(page.get_by_role("heading", name=f"Request consent for {STUDENT}")).to_be_visible()
    for label in ("Video sessions", "Simple games", "Mood check-ins"):
        expect(page.get_by_label(re.compile(label))).to_be_checked()
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text(re.compile(r"Consent requested\. We emailed .*Maria Garcia"))).to_be_visible()

    # 2. The guardian opens the email from the development outbox (in her language: Spanish).
    guardian_context = browser.new_context(base_url=base_url, locale="en-US")
    browser_errors.watch(guardian_context)
    guardian = guardian_context.new_page()
    guardian.goto(base_url + "/dev/outbox/")
    guardian.get_by_role("row", name=re.compile(GUARDIAN_SPANISH)).get_by_role(
        "link", name="La escuela le pide su consentimiento").click()
    link = guardian.locator("a[href*='/consent/invite/']")
    link.click()
    expect(guardian).to_have_url(re.compile(r"/login"))
    guardian.get_by_label("Email").fill(GUARDIAN_SPANISH)
    guardian.get_by_label("Password").fill(DEMO_PASSWORD)
    guardian.get_by_role("button", name="Sign in", exact=True).click()
    expect(guardian).to_have_url(re.compile(r"/consent/requests/\d+/sign$"))

    # 3. She reads the Spanish form and chooses per permission.
    expect(guardian.get_by_role("heading", name="Consentimiento para consejería escolar por video")).to_be_visible()
    assert_accessible(guardian)
    guardian.get_by_role("group", name="Juegos sencillos durante las sesiones").get_by_label("No permitir").check()
    guardian.get_by_label("Doy mi consentimiento según lo que elegí abajo").check()
    guardian.get_by_label("Escriba su nombre completo").fill("María García López")
    guardian.get_by_label("Soy el padre, la madre o el tutor legal de este estudiante.").check()
    pad = guardian.locator("#signature-pad")
    box = pad.bounding_box()
    guardian.mouse.move(box["x"] + 20, box["y"] + 60)
    guardian.mouse.down()
    for step in range(1, 12):
        guardian.mouse.move(box["x"] + 20 + step * 25, box["y"] + 60 + (15 if step % 2 else -15))
    guardian.mouse.up()
    guardian.get_by_role("button", name="Enviar mi respuesta").click()
    expect(guardian.get_by_text("Gracias. Su respuesta quedó guardada.", exact=False)).to_be_visible()
    expect(guardian.get_by_text("Activo", exact=True)).to_be_visible()
    answer = guardian.get_by_role("region", name="Su respuesta")
    expect(answer).to_contain_text("Juegos sencillos durante las sesiones: no permitido")
    expect(answer).to_contain_text("Sesiones por video con el consejero o terapeuta escolar: permitido")

    # 4. A PDF copy downloads.
    with guardian.expect_download() as download_info:
        guardian.get_by_role("link", name="Descargar una copia en PDF").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    # 5. She withdraws video sessions only.
    guardian.get_by_role("group", name="Retirar el consentimiento para").get_by_label(
        "Sesiones por video con el consejero o terapeuta escolar").check()
    guardian.get_by_role("button", name="Retirar el consentimiento").click()
    expect(guardian.get_by_text(re.compile(r"Listo\. El consentimiento quedó retirado"))).to_be_visible()
    guardian_context.close()

    # 6. The therapist's caseload view shows the change.
    page.goto(base_url + "/consent/caseload?filter=active")
    row = page.get_by_role("row", name=re.compile(STUDENT))
    expect(row).to_contain_text("Mood check-ins")
    expect(row).not_to_contain_text("Video sessions")
    page.get_by_role("link", name=STUDENT).click()
    page.get_by_role("link", name=re.compile(r"\d{4}-\d{2}-\d{2}")).first.click()
    expect(page.get_by_text(re.compile(r"Video sessions with the school counselor or therapist: withdrawn"))).to_be_visible()
