//! What a browser does: sign in through the form, keep the session
//! cookie, send forms with their CSRF token.

/// A browser session for `email`: signs in through the login form and
/// returns the cookie header and the session's CSRF token.
pub async fn browser_session(
    app: &crate::TestApp,
    email: &str,
    password: &str,
) -> (String, String) {
    use axum::body::Body;
    use axum::http::Request;
    let page = app.get("/login").await;
    let pre = set_cookie(&page, "faena_pre").expect("a pre-session cookie");
    let csrf = csrf_of(&page.text());
    let body = format!(
        "_csrf={csrf}&email={}&password={}",
        form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
    );
    let res = app
        .send(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("faena_pre={pre}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(
        res.status,
        axum::http::StatusCode::SEE_OTHER,
        "{}",
        res.text()
    );
    let cookie = format!(
        "faena_session={}",
        set_cookie(&res, "faena_session").unwrap()
    );
    let home = app
        .send(
            Request::get("/profile")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    (cookie, csrf_of(&home.text()))
}

pub fn set_cookie(res: &crate::TestResponse, name: &str) -> Option<String> {
    res.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A signed-in browser: its session cookie goes with every request and
/// its CSRF token with every form, as a real browser's would.
pub struct Browser {
    client: crate::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    /// Signs in through the login form.
    pub async fn sign_in(app: &crate::TestApp, email: &str, password: &str) -> Self {
        let (cookie, csrf) = browser_session(app, email, password).await;
        Browser {
            client: app.anonymous(),
            cookie,
            csrf,
        }
    }

    /// The session cookie (`faena_session=…`).
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The CSRF token its forms carry.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Opens a page.
    pub async fn get(&self, path: &str) -> crate::TestResponse {
        use axum::body::Body;
        use axum::http::Request;
        self.client
            .send(
                Request::get(path)
                    .header("accept", "text/html")
                    .header("cookie", &self.cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
    }

    /// Submits a form with `fields`, its CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> crate::TestResponse {
        use axum::body::Body;
        use axum::http::Request;
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("_csrf", &self.csrf)
            .extend_pairs(fields)
            .finish();
        self.client
            .send(
                Request::post(path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("cookie", &self.cookie)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
    }
}

impl crate::TestApp {
    /// A browser signed in as the first administrator.
    pub async fn admin_browser(&self) -> Browser {
        Browser::sign_in(self, crate::ADMIN_EMAIL, crate::ADMIN_PASSWORD).await
    }

    /// A browser signed in as a new user of `role`.
    pub async fn browser_for(&self, role: &str) -> Browser {
        let email = self.create_user(role).await;
        Browser::sign_in(self, &email, crate::USER_PASSWORD).await
    }
}
