"""The page language follows the reader's choice: <html lang> and the switch button say which."""

from tests.conftest import get_csrf


def test_html_lang_and_switch_follow_the_chosen_language(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert 'value="es"' in page and ">Español</button>" in page

    token = get_csrf(client, "/login")
    assert client.post("/language", data={"lang": "es", "next": "/login", "csrf_token": token}).status_code == 302

    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="es">' in page
    # A Spanish reader is offered the way back to English, not Spanish again.
    assert 'name="lang" value="en"' in page and ">English</button>" in page
