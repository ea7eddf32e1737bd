//! A module declares itself through its face: permissions, default grants
//! per built-in role, OpenAPI tags, navigation, routes. Mounting one is all
//! it takes; the platform names no module. A route that requires a
//! permission nobody declares stops the start.

use axum::http::StatusCode;
use faena_platform::auth::{Access, Grants, Pages, Permission, secured};
use faena_platform::http::Json;
use faena_platform::ui::NavEntry;
use faena_platform::{AppState, Module};
use faena_testkit::TestApp;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A module with one permission, one API route, one page and a nav entry.
struct Notes {
    /// The permission its page requires (a wrong one for the start-up test).
    route_needs: Permission,
}

const NOTES_READ: Permission = Permission::new("notes.notes.read");

impl Module for Notes {
    fn name(&self) -> &'static str {
        "notes"
    }

    fn permissions(&self) -> &'static [Permission] {
        &[NOTES_READ]
    }

    fn grants(&self) -> Grants {
        &[("viewer", &["notes.*.read"]), ("manager", &["notes.*.*"])]
    }

    fn openapi_tags(&self) -> &'static [(&'static str, &'static str)] {
        &[("notes", "Notes, a module of the test suite")]
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(secured(NOTES_READ, routes!(list_notes)))
    }

    fn pages(&self) -> Pages {
        Pages::new().get("/notes", Access::perm(self.route_needs), || async {
            "notas"
        })
    }

    fn nav(&self) -> Option<NavEntry> {
        Some(NavEntry {
            module: "notes",
            title_key: "home.title",
            href: "/notes",
        })
    }
}

/// List notes.
#[utoipa::path(get, path = "/api/notes", tag = "notes",
    responses((status = 200, body = Vec<String>)))]
async fn list_notes() -> Json<Vec<String>> {
    Json(vec!["Revisar la grúa".to_owned()])
}

fn notes() -> Box<dyn Module> {
    Box::new(Notes {
        route_needs: NOTES_READ,
    })
}

async fn viewer_patterns(app: &TestApp) -> Vec<String> {
    let role = app.admin().await.get("/api/roles/viewer").await.json();
    serde_json::from_value(role["permissions"].clone()).unwrap()
}

#[tokio::test]
async fn a_mounted_module_brings_its_routes_grants_tags_and_navigation() {
    let app = TestApp::with_modules(vec![notes()]).await;
    let viewer = app.client_for("viewer").await;
    let res = viewer.get("/api/notes").await;
    res.assert_status(StatusCode::OK);
    assert_eq!(res.json(), json!(["Revisar la grúa"]));
    viewer.get("/notes").await.assert_status(StatusCode::OK);
    app.client_for("warehouse")
        .await
        .get("/api/notes")
        .await
        .assert_status(StatusCode::FORBIDDEN);

    let doc = app.get("/api/openapi.json").await.json();
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"notes") && tags.contains(&"orders"),
        "{tags:?}"
    );
    let home = app.admin().await.get("/").await;
    home.assert_status(StatusCode::OK);
    // Autoescaping writes the slash as `&#x2f;`.
    assert!(
        home.text().contains("href=\"&#x2f;notes\""),
        "the home page links it: {}",
        home.text()
    );
}

#[tokio::test]
async fn a_module_installed_later_grants_once_and_respects_what_an_admin_took_away() {
    let app = TestApp::new().await;
    assert!(
        !viewer_patterns(&app)
            .await
            .iter()
            .any(|p| p.starts_with("notes."))
    );

    // The module is installed: the next start gives its grants.
    faena_server::app::ensure_roles(app.state.db(), &[notes()])
        .await
        .unwrap();
    let patterns = viewer_patterns(&app).await;
    assert!(
        patterns.contains(&"notes.*.read".to_owned()),
        "{patterns:?}"
    );
    assert!(
        patterns.contains(&"clients.*.read".to_owned()),
        "kept: {patterns:?}"
    );

    // An admin takes it away; later starts do not give it back.
    let without: Vec<String> = patterns
        .into_iter()
        .filter(|p| p != "notes.*.read")
        .collect();
    let admin = app.admin().await;
    admin
        .send_json(
            axum::http::Method::PUT,
            "/api/roles/viewer",
            &json!({"permissions": without}),
        )
        .await
        .assert_status(StatusCode::OK);
    faena_server::app::ensure_roles(app.state.db(), &[notes()])
        .await
        .unwrap();
    assert!(
        !viewer_patterns(&app)
            .await
            .contains(&"notes.*.read".to_owned())
    );
}

#[tokio::test]
async fn a_route_that_requires_an_undeclared_permission_stops_the_start() {
    let app = TestApp::new().await;
    let mut config = app.state.config().clone();
    config.server_id = "second".into();
    let mut modules = faena_server::modules::enabled(&config);
    modules.push(Box::new(Notes {
        route_needs: Permission::new("notes.secrets.read"),
    }));
    let Err(e) = faena_server::app::build_with(config, modules).await else {
        panic!("the start went on");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("GET /notes requires notes.secrets.read"),
        "{message}"
    );
}

/// A module whose response schema takes a name another module uses.
struct Clashing;

/// Not the warehouse's order: a note that happens to be called one.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = OrderView)]
struct NoteView {
    text: String,
}

/// A note shown as an `OrderView`.
#[utoipa::path(get, path = "/api/clashing", tag = "notes",
    responses((status = 200, body = NoteView)))]
async fn clashing_view() -> Json<NoteView> {
    Json(NoteView {
        text: "nota".into(),
    })
}

impl Module for Clashing {
    fn name(&self) -> &'static str {
        "clashing"
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        OpenApiRouter::new().routes(routes!(clashing_view))
    }
}

#[tokio::test]
async fn a_schema_name_two_modules_give_different_shapes_stops_the_start() {
    assert_eq!(
        faena_server::app::schema_clashes(&faena_server::modules::all()),
        Vec::<String>::new(),
        "the shipped modules share no schema name"
    );
    let app = TestApp::new().await;
    let mut config = app.state.config().clone();
    config.server_id = "second".into();
    let mut modules = faena_server::modules::enabled(&config);
    modules.push(Box::new(Clashing));
    let Err(e) = faena_server::app::build_with(config, modules).await else {
        panic!("the start went on");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("`OrderView` of clashing is another one of wms's"),
        "{message}"
    );
}

#[test]
fn every_declared_permission_is_named_for_its_module_once() {
    let mut seen = std::collections::BTreeSet::new();
    let modules = faena_server::modules::all();
    let declared = faena_platform::auth::perms::ALL
        .iter()
        .map(|p| ("platform", *p))
        .chain(modules.iter().flat_map(|m| {
            let name = m.name();
            m.permissions().iter().map(move |p| (name, *p))
        }));
    for (module, p) in declared {
        let parts: Vec<&str> = p.as_str().split('.').collect();
        assert_eq!(parts.len(), 3, "{p} is module.resource.action");
        assert_eq!(parts[0], module, "{p} is named for {module}");
        assert!(
            faena_platform::auth::is_valid_pattern(p.as_str()),
            "{p}: lowercase letters, digits and _"
        );
        assert!(seen.insert(p), "{p} is declared twice");
    }
}
