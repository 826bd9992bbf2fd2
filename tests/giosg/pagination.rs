//! Cursor pagination: correct while rows come and go, and on every list (partnerships,
//! partners, invitations).

use super::*;

/// The path and query of an absolute `next` / `previous` link of this server.
fn local(app: &App, link: &Value) -> String {
    let url = link.as_str().unwrap_or_else(|| panic!("link: {link}"));
    let prefix = format!("http://{}", app.addr);
    url.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is absolute on {prefix}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_stays_correct_while_rows_come_and_go() {
    for_each_backend(|app| async move {
        let a = Org::active(&app, "pages").await;
        let mut members = vec![a.owner.clone()];
        for i in 0..6 {
            members.push(member(&app, &a, &format!("pages-{i}"), "member").await);
        }
        let base = format!("/api/v5/orgs/{}/users", a.uuid);

        // Page 1 of 3, then insert two and delete one not yet seen, then walk on.
        let first = get(&app, &format!("{base}?page_size=3"), &a.owner.token).await;
        first.assert_status(200);
        assert_eq!(first.json["previous"], Value::Null);
        let mut seen = ids(&first.json);
        assert_eq!(
            seen,
            members[..3]
                .iter()
                .map(|u| u.uuid.clone())
                .collect::<Vec<_>>()
        );
        let added1 = member(&app, &a, "pages-new-1", "member").await;
        let added2 = member(&app, &a, "pages-new-2", "member").await;
        let removed = members[4].clone();
        app.cli(&[
            "member",
            "remove",
            "--organization",
            &a.id.to_string(),
            "--email",
            &removed.email,
        ])
        .await
        .json();
        let mut next = first.json["next"].clone();
        let mut pages = vec![first.json.clone()];
        while !next.is_null() {
            let link = local(&app, &next);
            assert!(link.contains("page_size=3"), "links keep the query: {link}");
            let page = get(&app, &link, &a.owner.token).await;
            page.assert_status(200);
            assert!(
                !page.json["previous"].is_null(),
                "a later page has a previous link"
            );
            seen.extend(ids(&page.json));
            next = page.json["next"].clone();
            pages.push(page.json.clone());
            assert!(pages.len() < 10, "pagination terminates");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates: {seen:?}");
        for u in members.iter().filter(|u| u.uuid != removed.uuid) {
            assert!(
                seen.contains(&u.uuid),
                "no row that existed throughout is skipped"
            );
        }
        assert!(
            !seen.contains(&removed.uuid),
            "a deleted row is not served later"
        );
        assert!(
            seen.contains(&added1.uuid) && seen.contains(&added2.uuid),
            "rows added at the end appear"
        );

        // Back from the last page by `previous`, the same rows in reverse page order.
        let mut back = Vec::new();
        let mut prev = pages.last().unwrap()["previous"].clone();
        back.extend(ids(pages.last().unwrap()).into_iter().rev());
        while !prev.is_null() {
            let page = get(&app, &local(&app, &prev), &a.owner.token).await;
            page.assert_status(200);
            back.extend(ids(&page.json).into_iter().rev());
            prev = page.json["previous"].clone();
            assert!(back.len() < 50, "pagination terminates");
        }
        back.reverse();
        assert_eq!(back, seen, "walking back yields the same sequence");

        // Descending order walks the same set backwards.
        let mut desc = Vec::new();
        let mut link = format!("{base}?page_size=4&ordering=-created_at");
        loop {
            let page = get(&app, &link, &a.owner.token).await;
            page.assert_status(200);
            desc.extend(ids(&page.json));
            if page.json["next"].is_null() {
                break;
            }
            link = local(&app, &page.json["next"]);
        }
        let mut reversed = seen.clone();
        reversed.reverse();
        assert_eq!(desc, reversed);

        // Links are absolute on the host the client called, behind a TLS proxy too.
        let proxied = send(
            app.http
                .get(app.url(&format!("{base}?page_size=2")))
                .header("Authorization", format!("Token {}", a.owner.token))
                .header("Host", "orgd.example.com")
                .header("X-Forwarded-Proto", "https"),
        )
        .await;
        proxied.assert_status(200);
        let next = proxied.json["next"].as_str().expect("next link");
        assert!(
            next.starts_with(&format!(
                "https://orgd.example.com{base}?page_size=2&cursor="
            )),
            "{next}"
        );

        // Over HTTP/2 the host comes from the :authority.
        let h2 = send(
            app.h2
                .get(app.url(&format!("{base}?page_size=2")))
                .header("Authorization", format!("Token {}", a.owner.token)),
        )
        .await;
        h2.assert_status(200);
        assert_eq!(h2.version, reqwest::Version::HTTP_2);
        local(&app, &h2.json["next"]);

        // A cursor is opaque but checked: one that does not decode to a position is a 404.
        let cursor = pages[0]["next"]
            .as_str()
            .unwrap()
            .split("cursor=")
            .nth(1)
            .unwrap()
            .to_string();
        let r = get(
            &app,
            &format!("{base}?cursor=Z{}", &cursor[1..]),
            &a.owner.token,
        )
        .await;
        r.assert_status(404);
    })
    .await;
}

/// Partners are listed by their own `created_at`, partnerships by theirs: partnered in the
/// other order than they were created, the two lists differ, page by page and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_are_listed_by_their_own_creation() {
    for_each_backend(|app| async move {
        let hub = Org::active(&app, "order-hub").await;
        let mut spokes = Vec::new();
        for i in 0..3 {
            spokes.push(Org::active(&app, &format!("order-spoke-{i}")).await);
        }
        for i in [2, 0, 1] {
            partner_up(&app, &hub, &spokes[i]).await;
        }
        let uuids = |order: [usize; 3]| -> Vec<String> {
            order.iter().map(|i| spokes[*i].uuid.clone()).collect()
        };
        for (list, want) in [
            ("partners", uuids([0, 1, 2])),
            ("partnerships", uuids([2, 0, 1])),
        ] {
            let path = format!("/api/v5/orgs/{}/{list}?page_size=2", hub.uuid);
            let first = get(&app, &path, &hub.owner.token).await;
            first.assert_status(200);
            let second = get(&app, &local(&app, &first.json["next"]), &hub.owner.token).await;
            second.assert_status(200);
            assert_eq!(second.json["next"], Value::Null, "{list}");
            let mut seen = ids(&first.json);
            seen.extend(ids(&second.json));
            assert_eq!(seen, want, "{list}: in order");
            let back = get(
                &app,
                &local(&app, &second.json["previous"]),
                &hub.owner.token,
            )
            .await;
            assert_eq!(ids(&back.json), ids(&first.json), "{list}: previous page");
            let newest = format!("/api/v5/orgs/{}/{list}?ordering=-created_at", hub.uuid);
            let newest = get(&app, &newest, &hub.owner.token).await;
            let mut reversed = want.clone();
            reversed.reverse();
            assert_eq!(ids(&newest.json), reversed, "{list}: newest first");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partnership_partner_and_invitation_lists_paginate() {
    for_each_backend(|app| async move {
        let hub = Org::active(&app, "hub").await;
        let mut partners = Vec::new();
        for i in 0..3 {
            let p = Org::active(&app, &format!("spoke-{i}")).await;
            partner_up(&app, &hub, &p).await;
            partners.push(p);
        }
        for (path, key) in [
            (
                format!("/api/v5/orgs/{}/partnerships", hub.uuid),
                "partnerships",
            ),
            (format!("/api/v5/orgs/{}/partners", hub.uuid), "partners"),
        ] {
            let first = get(&app, &format!("{path}?page_size=2"), &hub.owner.token).await;
            first.assert_status(200);
            assert_eq!(
                ids(&first.json),
                vec![partners[0].uuid.clone(), partners[1].uuid.clone()],
                "{key}: first page"
            );
            assert_eq!(first.json["previous"], Value::Null);
            // A partnership made between the pages shows up at the end, nothing repeats.
            let late = Org::active(&app, &format!("late-{key}")).await;
            partner_up(&app, &hub, &late).await;
            partners.push(late);
            let second = get(&app, &local(&app, &first.json["next"]), &hub.owner.token).await;
            second.assert_status(200);
            let mut rest = ids(&second.json);
            if !second.json["next"].is_null() {
                let third = get(&app, &local(&app, &second.json["next"]), &hub.owner.token).await;
                assert_eq!(third.json["next"], Value::Null);
                rest.extend(ids(&third.json));
            }
            let want: Vec<String> = partners[2..].iter().map(|p| p.uuid.clone()).collect();
            assert_eq!(rest, want, "{key}: the rest, in order");
            let back = get(
                &app,
                &local(&app, &second.json["previous"]),
                &hub.owner.token,
            )
            .await;
            assert_eq!(ids(&back.json), ids(&first.json), "{key}: previous page");
        }
        // The hub's outgoing invitations, newest first, two at a time.
        let mut seen = Vec::new();
        let mut link = "/api/v5/outgoing_invitations?ordering=-created_at&page_size=2".to_string();
        loop {
            let page = get(&app, &link, &hub.owner.token).await;
            page.assert_status(200);
            seen.extend(
                page.json["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["email"].as_str().unwrap().to_string()),
            );
            if page.json["next"].is_null() {
                break;
            }
            link = local(&app, &page.json["next"]);
        }
        let mut want: Vec<String> = partners.iter().map(|p| p.email().to_string()).collect();
        want.reverse();
        assert_eq!(seen, want);
    })
    .await;
}
