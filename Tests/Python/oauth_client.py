"""An unmodified third-party OAuth 2.0 client against the gateway's token endpoint (issue 19).

Usage: oauth_client.py <gateway-url> <client-id> <client-secret> <expected-userName>

requests-oauthlib's BackendApplicationClient (client credentials, client_secret_basic) and authlib's
OAuth2Session (client_secret_post) each obtain an access token from <gateway-url>/oauth/token, found through the
RFC 8414 discovery document, then list users through the gateway with it. Exits non-zero on any failure.
"""
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session


def main() -> int:
    base, client_id, client_secret, expected = sys.argv[1:5]
    meta = requests.get(base + "/.well-known/oauth-authorization-server", timeout=10)
    meta.raise_for_status()
    token_url = meta.json()["token_endpoint"]
    # The issuer names the public host (http://127.0.0.1:port here, since the test calls that host).
    assert token_url == base + "/oauth/token", token_url

    def list_users(session, name):
        r = session.get(base + "/scim/v2/Users", params={"filter": f'userName eq "{expected}"'}, timeout=10)
        r.raise_for_status()
        body = r.json()
        users = body["Resources"]
        assert [u["userName"] for u in users] == [expected], body
        print(f"{name}: listed {len(users)} user(s)")

    session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    token = session.fetch_token(token_url=token_url, client_id=client_id, client_secret=client_secret)
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0, token
    list_users(session, "requests-oauthlib")

    auth = AuthlibSession(client_id, client_secret, token_endpoint_auth_method="client_secret_post")
    token = auth.fetch_token(token_url, grant_type="client_credentials")
    assert token["access_token"].startswith("scimat_"), "unexpected token format"
    list_users(auth, "authlib")

    # A wrong secret is refused the RFC 6749 way, which the library turns into its own error.
    # The last character changes for certain (replacing it by a fixed "x" left the secret unchanged one run in 62).
    wrong = client_secret[:-1] + ("y" if client_secret.endswith("x") else "x")
    bad = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    try:
        bad.fetch_token(token_url=token_url, client_id=client_id, client_secret=wrong)
    except Exception as e:  # oauthlib raises InvalidClientError (or a generic OAuth2Error)
        assert "invalid_client" in str(e) or type(e).__name__ == "InvalidClientError", repr(e)
        print("requests-oauthlib: wrong secret refused:", type(e).__name__)
    else:
        raise AssertionError("a wrong secret got a token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
