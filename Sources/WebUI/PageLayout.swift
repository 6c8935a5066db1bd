/// The frame every page shares: language, viewport for phones, our stylesheet and script (by URL: nothing inline),
/// a header with the product name and navigation, the page's own content.
public enum PageLayout {
    /// `assetBase`: where this listener serves `app.css` and `app.js` (`/console/static/`, `/setup/static/`).
    public static func render(title: String, brand: String, assetBase: String, nav: HTML = .empty, body: HTML) -> HTML {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · \(brand)</title>
        <link rel="stylesheet" href="\(assetBase + WebAsset.stylesheet.versionedName)">
        <script src="\(assetBase + WebAsset.script.versionedName)" defer></script>
        </head>
        <body>
        <header class="top"><span class="brand">\(brand)</span><nav aria-label="Main">\(nav)</nav></header>
        <main id="main">
        \(body)
        </main>
        <footer>SCIM gateway</footer>
        </body>
        </html>
        """
    }

    /// A hidden CSRF field for a form.
    public static func csrfField(_ token: String) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(token)\">"
    }
}
