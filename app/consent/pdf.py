"""A PDF copy of a signed or declined consent: form text, choices, signer, times and hash."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from fpdf import FPDF

from app.consent.models import ConsentSignature

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SCOPE_NAMES = {
    "en": {"video_sessions": "Video sessions", "games": "Games during sessions",
           "mood_checkins": "Mood check-ins", "share_with_school_staff": "Sharing with school staff"},
    "es": {"video_sessions": "Sesiones por video", "games": "Juegos durante las sesiones",
           "mood_checkins": "Registro del estado de ánimo",
           "share_with_school_staff": "Compartir con el personal escolar"},
}


def _pdf() -> tuple[FPDF, str]:
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title("Homeroom consent record")
    pdf.set_creator("Homeroom")
    if (_FONT_DIR / "DejaVuSans.ttf").exists():
        pdf.add_font("DejaVu", "", str(_FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
        return pdf, "DejaVu"
    return pdf, "Helvetica"  # core font: Latin-1 only (covers English and Spanish)


def _safe(text: str, family: str) -> str:
    if family != "Helvetica":
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def consent_pdf(signature: ConsentSignature) -> bytes:
    request = signature.request
    student = request.student
    pdf, family = _pdf()
    pdf.add_page()

    def line(text: str, size: int = 11, style: str = "", gap: float = 2) -> None:
        pdf.set_font(family, style, size)
        pdf.multi_cell(0, size * 0.5, _safe(text, family), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    decision = "SIGNED" if signature.decision == "signed" else "DECLINED"
    line(f"Homeroom consent record: {decision}", 16, "B", 4)
    line(f"Student: {student.first_name} {student.last_name} (grade {student.grade}, {student.school.name})")
    line(f"District: {student.school.district.name}")
    line(f"Request #{request.id}, status now: {request.status}; valid until {request.expires_on.isoformat()}")
    line(f"Form version {signature.template_version}, language: {signature.language}", gap=4)

    line("Choices", 13, "B")
    names = SCOPE_NAMES.get(signature.language, SCOPE_NAMES["en"])
    for scope, allowed in signature.choices.items():
        line(f"  {names.get(scope, scope)}: {'ALLOWED' if allowed else 'NOT ALLOWED'}")
    if signature.decline_reason:
        line(f"Reason given: {signature.decline_reason}")
    pdf.ln(2)

    line("Signed by", 13, "B")
    line(f"Typed name: {signature.typed_name}")
    line(f"Account: {signature.guardian.name} <{signature.guardian.email}>")
    line("Confirmed being the student's parent or legal guardian: yes")
    line(f"Time (UTC): {signature.signed_at.strftime('%Y-%m-%d %H:%M:%S')}")
    line(f"IP address: {signature.ip or 'unknown'}")
    line(f"Browser: {signature.user_agent or 'unknown'}")
    if signature.drawn_signature_png:
        raw = base64.b64decode(signature.drawn_signature_png.split(",", 1)[1])
        pdf.image(io.BytesIO(raw), w=70)
        pdf.ln(2)

    line("Form text as shown to the signer", 13, "B")
    line(signature.text_snapshot, 10)
    line(f"SHA-256 of the form text: {signature.text_sha256}", 9)
    return bytes(pdf.output())
