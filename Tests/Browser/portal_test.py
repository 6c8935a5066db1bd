"""Browser test of the setup portal and the operator console (issue 17), driven headless through Debian's chromium.

Usage: portal_test.py <gateway-port> <admin-port> <admin-token> <screenshot-dir>

Runs against a gateway started by the Swift test (Tests/IntegrationTests/BrowserTests.swift) on loopback. The
region host names are mapped to 127.0.0.1 inside the browser, so pages are opened on the tenant's real region host
(http://api.example.com:<port>/…) and the misdirected-host case can be shown. Every step asserts what a person
would check on the page; every page is saved as a PNG in <screenshot-dir>. Exits non-zero on the first failure.
"""
import json
import sys
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

GATEWAY_PORT, ADMIN_PORT, ADMIN_TOKEN, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
US = f"http://api.example.com:{GATEWAY_PORT}"
EU = f"http://eu2-api.example.com:{GATEWAY_PORT}"
CONSOLE = f"http://127.0.0.1:{ADMIN_PORT}/console"
HOSTILE = "<script>alert('xss')</script><img src=x onerror=alert(1)>"


def step(message):
    print("step:", message, flush=True)


def scim(method, path, token, body=None, host="api.example.com", agent="Okta SCIM Client 1.0.0"):
    """A real SCIM request through the gateway, as an IdP sends it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{GATEWAY_PORT}{path}", data=data, method=method)
    request.add_header("Host", host)
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Accept", "application/scim+json")
    request.add_header("User-Agent", agent)
    if data is not None:
        request.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def make_driver():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100",
                "--host-resolver-rules=MAP api.example.com 127.0.0.1, MAP eu2-api.example.com 127.0.0.1"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, name, full=True):
    if full:
        height = driver.execute_script("return Math.max(document.body.scrollHeight, 800)")
        driver.set_window_size(1280, min(height + 40, 6000))
    driver.save_screenshot(f"{SHOTS}/{name}.png")
    driver.set_window_size(1280, 1100)


def no_alert(driver):
    try:
        driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def body_text(driver):
    # A form post replaces the page while a wait polls it: a stale body reads as empty, and the wait polls again.
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except StaleElementReferenceException:
        return ""


def live_text(driver):
    try:
        return driver.find_element(By.CSS_SELECTOR, "[data-live-check]").text
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def submit(driver, form_css, confirm=False):
    driver.find_element(By.CSS_SELECTOR, form_css + " button[type=submit]").click()
    if confirm:
        WebDriverWait(driver, 5).until(EC.alert_is_present()).accept()


def main():
    driver = make_driver()
    wait = WebDriverWait(driver, 20)
    try:
        step("operator signs in to the console")
        driver.get(CONSOLE)
        assert "Sign in" in driver.title, driver.title
        shot(driver, "console-1-sign-in", full=False)
        driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
        submit(driver, "form[action='/console/login']")
        wait.until(EC.title_contains("Tenants"))

        step("operator creates a tenant with a hostile name")
        driver.get(CONSOLE + "/tenants/new")
        driver.find_element(By.ID, "name").send_keys("Acme " + HOSTILE)
        driver.find_element(By.CSS_SELECTOR, "#region option[value=us]").click()
        submit(driver, "form[action='/console/tenants']")
        wait.until(EC.title_contains("Shown once"))
        assert "scim_" in body_text(driver)
        shot(driver, "console-2-tenant-created")
        driver.find_element(By.LINK_TEXT, "Continue").click()
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[action$='/setup-links']")))
        assert no_alert(driver), "an alert ran: the hostile name was not escaped"
        assert HOSTILE in body_text(driver), "the hostile name is shown as text"
        tenant_url = driver.current_url

        step("operator creates a setup link")
        submit(driver, "form[action$='/setup-links']")
        wait.until(EC.title_contains("Shown once"))
        link = next(e.text for e in driver.find_elements(By.CSS_SELECTOR, "code.secret") if "/setup/l/" in e.text)
        link_path = urllib.parse.urlparse(link).path
        assert link.startswith("https://api.example.com/setup/l/scimsetup_"), link
        shot(driver, "console-3-setup-link")

        step("IT admin opens the link, starts, picks Okta and gets URL + token")
        admin_view = make_driver()
        try:
            admin_view.get(US + link_path)
            assert "Set up user provisioning" in body_text(admin_view)
            assert no_alert(admin_view)
            shot(admin_view, "setup-1-landing", full=False)
            submit(admin_view, "form[action='/setup/start']")
            WebDriverWait(admin_view, 10).until(EC.title_contains("Overview"))
            shot(admin_view, "setup-2-overview")
            admin_view.find_element(By.LINK_TEXT, "Okta").click()
            submit(admin_view, "form[action='/setup/token']")
            WebDriverWait(admin_view, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "code[data-secret]")))
            token = admin_view.find_element(By.CSS_SELECTOR, "code[data-secret]").text
            assert token.startswith("scim_"), token
            assert "https://api.example.com/scim/v2" in body_text(admin_view)
            shot(admin_view, "setup-3-okta")

            step("a real SCIM request with that token shows up in the live check")
            assert scim("GET", "/scim/v2/Users?startIndex=1&count=2", token) == 200
            assert scim("POST", "/scim/v2/Users", token, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                             "userName": "jane" + HOSTILE + "@example.com"}) in (201, 400)
            admin_view.get(US + "/setup")
            WebDriverWait(admin_view, 25).until(
                lambda d: "/scim/v2/Users" in live_text(d))
            live = admin_view.find_element(By.CSS_SELECTOR, "[data-live-check]").text
            assert "GET /scim/v2/Users" in live, live
            assert no_alert(admin_view), "an alert ran in the live check"
            shot(admin_view, "setup-4-live-check")

            step("a bad token gets a plain explanation (checker and live check)")
            typo = token[:-1] + ("A" if not token.endswith("A") else "B")
            admin_view.find_element(By.ID, "check-token").send_keys(typo)
            submit(admin_view, "form[action='/setup/check-token']")
            WebDriverWait(admin_view, 10).until(lambda d: "typo" in body_text(d))
            shot(admin_view, "setup-5-token-check")

            step("rotate the token from the page; the old one keeps working during the grace window")
            admin_view.get(US + "/setup")
            rotate_form = "form[action='/setup/token/rotate']"
            submit(admin_view, rotate_form, confirm=True)
            WebDriverWait(admin_view, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "code[data-secret]")))
            new_token = admin_view.find_element(By.CSS_SELECTOR, "code[data-secret]").text
            assert new_token != token and new_token.startswith("scim_")
            assert scim("GET", "/scim/v2/Users?count=1", new_token) == 200
            assert scim("GET", "/scim/v2/Users?count=1", token) == 200, "grace window"
            shot(admin_view, "setup-6-rotated")

            step("deactivate and reactivate from the page")
            admin_view.get(US + "/setup")
            admin_view.find_element(By.CSS_SELECTOR, "form[action='/setup/integration'] input[name=confirm]").click()
            submit(admin_view, "form[action='/setup/integration']", confirm=True)
            WebDriverWait(admin_view, 10).until(lambda d: "deactivated" in body_text(d))
            assert scim("GET", "/scim/v2/Users?count=1", new_token) == 401
            shot(admin_view, "setup-7-deactivated")
            WebDriverWait(admin_view, 25).until(
                lambda d: "switched off" in live_text(d))
            admin_view.find_element(By.CSS_SELECTOR, "form[action='/setup/integration'] input[name=confirm]").click()
            submit(admin_view, "form[action='/setup/integration']")
            WebDriverWait(admin_view, 10).until(lambda d: "active again" in body_text(d))
            assert scim("GET", "/scim/v2/Users?count=1", new_token) == 200

            step("the operator sees the request log and the audit trail")
            driver.get(tenant_url)
            text = body_text(driver)
            assert "setup_link.open" in text and "integration.deactivate" in text, "audit trail"
            assert "/scim/v2/Users" in text, "request log"
            assert no_alert(driver)
            shot(driver, "console-4-tenant")
            driver.get(CONSOLE)
            shot(driver, "console-5-tenants")

            step("a revoked link is refused and ends the session")
            driver.get(tenant_url)
            revoke_form = "form[action*='/setup-links/'][action$='/revoke']"
            submit(driver, revoke_form)
            # The click returns before the post is answered: wait for the tenant page without the live link.
            wait.until(lambda d: "revoked" in body_text(d) and not d.find_elements(By.CSS_SELECTOR, revoke_form))
            admin_view.get(US + "/setup")
            assert "Session ended" in body_text(admin_view)
            admin_view.get(US + link_path)
            assert "Link not valid" in body_text(admin_view)
            shot(admin_view, "setup-8-revoked-link", full=False)
        finally:
            admin_view.quit()

        step("another region's link on this host is refused with the right address")
        driver.get(CONSOLE + "/tenants/new")
        driver.find_element(By.ID, "name").send_keys("Euro GmbH")
        driver.find_element(By.CSS_SELECTOR, "#region option[value=eu2]").click()
        submit(driver, "form[action='/console/tenants']")
        wait.until(EC.title_contains("Shown once"))
        driver.find_element(By.LINK_TEXT, "Continue").click()
        submit(driver, "form[action$='/setup-links']")
        wait.until(EC.title_contains("Shown once"))
        eu_link = next(e.text for e in driver.find_elements(By.CSS_SELECTOR, "code.secret") if "/setup/l/" in e.text)
        assert eu_link.startswith("https://eu2-api.example.com/"), eu_link
        other = make_driver()
        try:
            other.get(US + urllib.parse.urlparse(eu_link).path)
            assert "Wrong address" in body_text(other) and "eu2-api.example.com" in body_text(other)
            shot(other, "setup-9-wrong-region", full=False)
            other.get(EU + urllib.parse.urlparse(eu_link).path)
            assert "Euro GmbH" in body_text(other)
            other.get(EU + "/setup/l/scimsetup_AAAAAAAAAAAAAAAA_" + "b" * 38)
            assert "Link not valid" in body_text(other)
        finally:
            other.quit()

        step("phone-sized screen")
        driver.set_window_size(390, 844)
        driver.get(CONSOLE)
        driver.save_screenshot(f"{SHOTS}/console-6-phone.png")
        print("browser test: all steps passed")
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("browser test failed:", type(e).__name__, e, flush=True)
        raise
