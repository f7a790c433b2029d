use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::keys::{create_key, grant, new_location, new_org};

fn invite_req(
    org: &str,
    email: &str,
    authorizations: Vec<Authorization>,
    send: Option<bool>,
) -> CreateOrganizationInviteRequest {
    CreateOrganizationInviteRequest {
        organization_id: org.into(),
        email: email.into(),
        authorizations,
        send_email_invite: send,
    }
}

fn outbox(s: &TestServer) -> Vec<serde_json::Value> {
    std::fs::read_to_string(s.dir.path().join("outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn invites(app: &mut App, org: &str) -> Vec<OrganizationInvite> {
    let req = ListOrganizationMembersRequest {
        organization_id: org.into(),
    };
    app.list_organization_members(req)
        .await
        .unwrap()
        .into_inner()
        .invites
}

#[tokio::test]
async fn invites_are_created_listed_updated_resent_and_deleted() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();

    // No authorizations: the invitee will own the organization.
    let inv = owner
        .create_organization_invite(invite_req(&org, "Ann@Example.com", vec![], None))
        .await
        .unwrap();
    let inv = inv.into_inner().invite.unwrap();
    assert_eq!(inv.email, "ann@example.com");
    assert_eq!(inv.authorizations.len(), 1);
    assert_eq!(
        (
            inv.authorizations[0].authorization_id.as_str(),
            inv.authorizations[0].resource_id.as_str()
        ),
        ("organization_owner", org.as_str())
    );
    let mail = outbox(&s);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["to"], "ann@example.com");
    assert!(
        mail[0]["body"].as_str().unwrap().contains("Local Fleet"),
        "{mail:?}"
    );

    // Without email, and with explicit authorizations (organization_id may be left empty).
    let mut at_loc = grant("", "operator", "location", &loc);
    at_loc.identity_type = String::new();
    owner
        .create_organization_invite(invite_req(
            &org,
            "bob@example.com",
            vec![at_loc.clone()],
            Some(false),
        ))
        .await
        .unwrap();
    assert_eq!(
        outbox(&s).len(),
        1,
        "send_email_invite false writes nothing"
    );
    let listed = invites(&mut owner, &org).await;
    assert_eq!(
        listed.iter().map(|i| i.email.as_str()).collect::<Vec<_>>(),
        ["ann@example.com", "bob@example.com"]
    );
    assert_eq!(
        listed[1].authorizations[0].authorization_id,
        "location_operator"
    );

    let update = |add: Vec<Authorization>, remove: Vec<Authorization>| {
        UpdateOrganizationInviteAuthorizationsRequest {
            organization_id: org.clone(),
            email: "bob@example.com".into(),
            add_authorizations: add,
            remove_authorizations: remove,
        }
    };
    let org_op = grant(&org, "operator", "organization", &org);
    let inv = owner
        .update_organization_invite_authorizations(update(vec![org_op.clone()], vec![]))
        .await
        .unwrap();
    assert_eq!(inv.into_inner().invite.unwrap().authorizations.len(), 2);
    let inv = owner
        .update_organization_invite_authorizations(update(vec![], vec![at_loc.clone()]))
        .await
        .unwrap();
    assert_eq!(
        inv.into_inner().invite.unwrap().authorizations[0].authorization_id,
        "organization_operator"
    );
    assert_status(
        owner
            .update_organization_invite_authorizations(update(vec![], vec![org_op.clone()]))
            .await,
        Code::FailedPrecondition,
        "delete the invite instead",
    );
    assert_status(
        owner
            .update_organization_invite_authorizations(update(vec![], vec![]))
            .await,
        Code::InvalidArgument,
        "add_authorizations",
    );
    assert_status(
        owner
            .update_organization_invite_authorizations(update(vec![], vec![at_loc.clone()]))
            .await,
        Code::NotFound,
        "location_operator",
    );
    assert_status(
        owner
            .update_organization_invite_authorizations(update(
                vec![grant(&org, "owner", "robot", "nope")],
                vec![],
            ))
            .await,
        Code::NotFound,
        "nope",
    );

    let resend = |email: &str, send| ResendOrganizationInviteRequest {
        organization_id: org.clone(),
        email: email.into(),
        send_email_invite: send,
    };
    owner
        .resend_organization_invite(resend("bob@example.com", None))
        .await
        .unwrap();
    owner
        .resend_organization_invite(resend("bob@example.com", Some(false)))
        .await
        .unwrap();
    let mail = outbox(&s);
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[1]["to"], "bob@example.com");
    assert_status(
        owner
            .resend_organization_invite(resend("carol@example.com", None))
            .await,
        Code::NotFound,
        "carol@example.com",
    );

    let delete = |email: &str| DeleteOrganizationInviteRequest {
        organization_id: org.clone(),
        email: email.into(),
    };
    owner
        .delete_organization_invite(delete("bob@example.com"))
        .await
        .unwrap();
    assert_status(
        owner
            .delete_organization_invite(delete("bob@example.com"))
            .await,
        Code::NotFound,
        "bob@example.com",
    );
    assert_eq!(invites(&mut owner, &org).await.len(), 1);
}

#[tokio::test]
async fn create_invite_refuses_bad_emails_members_and_duplicates() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    for bad in ["", "ann", "ann@example", "@example.com", "a b@example.com"] {
        assert_status(
            owner
                .create_organization_invite(invite_req(&org, bad, vec![], None))
                .await,
            Code::InvalidArgument,
            "email",
        );
    }
    // Make a member with an ordinary address (members otherwise only come from bootstrap).
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO users(id, email, created_on) VALUES ('u2', 'dee@example.com', 0)",
                [],
            )?;
            tx.execute(
                "INSERT INTO members(org_id, user_id, date_added) VALUES (?1, 'u2', 0)",
                [&org],
            )?;
            Ok(())
        })
        .unwrap();
    assert_status(
        owner
            .create_organization_invite(invite_req(&org, "DEE@example.com", vec![], None))
            .await,
        Code::AlreadyExists,
        "member",
    );
    owner
        .create_organization_invite(invite_req(&org, "eve@example.com", vec![], None))
        .await
        .unwrap();
    assert_status(
        owner
            .create_organization_invite(invite_req(&org, "eve@example.com", vec![], None))
            .await,
        Code::AlreadyExists,
        "pending",
    );
    // Authorizations are validated like everywhere else, and must be in the invite's organization.
    let b = new_org(&mut owner, "B").await;
    let b_loc = new_location(&mut owner, &b, "B loc").await;
    let cases = [
        (
            grant(&org, "king", "organization", &org),
            Code::InvalidArgument,
            "authorization_id",
        ),
        (
            grant(&org, "owner", "location", &b_loc),
            Code::NotFound,
            "resource_id",
        ),
        (
            grant(&b, "owner", "location", &b_loc),
            Code::InvalidArgument,
            "authorizations",
        ),
    ];
    for (a, code, needle) in cases {
        assert_status(
            owner
                .create_organization_invite(invite_req(&org, "fay@example.com", vec![a], None))
                .await,
            code,
            needle,
        );
    }
    assert_status(
        owner
            .create_organization_invite(invite_req("nope", "fay@example.com", vec![], None))
            .await,
        Code::NotFound,
        "nope",
    );

    // Only owners invite.
    let (id, key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "organization", &org)],
    )
    .await;
    let mut op = s.client_for(&id, &key).await;
    assert_status(
        op.create_organization_invite(invite_req(&org, "gil@example.com", vec![], None))
            .await,
        Code::PermissionDenied,
        "write_organization",
    );
    assert_eq!(outbox(&s).len(), 1, "only eve's invite was mailed");
}
