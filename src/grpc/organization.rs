use tonic::{Request, Response, Status};

use super::{convert, principal, within};
use crate::db::Db;
use crate::domain::organization::Location;
use crate::domain::{DomainError, availability, avatar, organization, owner, quick_action, trial};
use crate::proto::google::api::HttpBody;
use crate::proto::v1::organization_service_server::OrganizationService;
use crate::proto::v1::*;

pub struct Organizations {
    pub db: Db,
    /// Signs the avatars' capability URLs.
    pub avatar_keys: avatar::UrlKeys,
    /// The most items a list read whole answers (`Config::max_unpaged_items`).
    pub max_unpaged_items: usize,
    /// How many organizations may be made (`Config::max_children`, ...).
    pub quota: organization::Quota,
}

impl Organizations {
    /// avatarURL's maker for one request, absolute to the origin the client called.
    async fn links<T>(&self, req: &Request<T>) -> Result<avatar::Links<'_>, Status> {
        Ok(avatar::Links {
            key: self.avatar_keys.get(&self.db).await?,
            origin: super::request_origin(req),
        })
    }
}

fn required(o: Option<Organization>) -> Result<Organization, Status> {
    o.ok_or_else(|| DomainError::invalid("organization", "is required").into())
}

#[tonic::async_trait]
impl OrganizationService for Organizations {
    async fn create_organization(
        &self,
        req: Request<CreateOrganizationRequest>,
    ) -> Result<Response<CreateOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let input = convert::organization_input(required(req.into_inner().organization)?);
        let view = organization::create_within(&self.db, &principal, input, self.quota)
            .await
            .map_err(|e| within("organization", e))?;
        Ok(Response::new(CreateOrganizationResponse {
            organization: Some(convert::organization(&view, &links)),
        }))
    }

    async fn update_organization(
        &self,
        req: Request<UpdateOrganizationRequest>,
    ) -> Result<Response<UpdateOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let body = required(req.into_inner().organization)?;
        let id = body.id;
        let view = organization::update_within(
            &self.db,
            &principal,
            id,
            convert::organization_input(body),
            self.quota,
        )
        .await
        .map_err(|e| within("organization", e))?;
        Ok(Response::new(UpdateOrganizationResponse {
            organization: Some(convert::organization(&view, &links)),
        }))
    }

    async fn get_organization(
        &self,
        req: Request<GetOrganizationRequest>,
    ) -> Result<Response<GetOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let view = organization::get(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(GetOrganizationResponse {
            organization: Some(convert::organization(&view, &links)),
        }))
    }

    async fn delete_organization(
        &self,
        req: Request<DeleteOrganizationRequest>,
    ) -> Result<Response<DeleteOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        organization::delete(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(DeleteOrganizationResponse {}))
    }

    async fn get_organizations(
        &self,
        req: Request<GetOrganizationsRequest>,
    ) -> Result<Response<GetOrganizationsResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let views = organization::list(&self.db, &principal, self.max_unpaged_items).await?;
        Ok(Response::new(GetOrganizationsResponse {
            organizations: views
                .iter()
                .map(|v| convert::organization(v, &links))
                .collect(),
        }))
    }

    async fn get_owned_organizations(
        &self,
        req: Request<GetOwnedOrganizationsRequest>,
    ) -> Result<Response<GetOwnedOrganizationsResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let views = organization::owned(&self.db, &principal, self.max_unpaged_items).await?;
        Ok(Response::new(GetOwnedOrganizationsResponse {
            organizations: views
                .iter()
                .map(|v| convert::organization(v, &links))
                .collect(),
        }))
    }

    async fn get_child_organizations(
        &self,
        req: Request<GetChildOrganizationsRequest>,
    ) -> Result<Response<GetChildOrganizationsResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let r = req.get_ref();
        let found =
            organization::children(&self.db, &principal, r.organization_id, r.limit, r.offset)
                .await?;
        Ok(Response::new(GetChildOrganizationsResponse {
            childs: found
                .children
                .iter()
                .map(|v| convert::organization(v, &links))
                .collect(),
            path: found
                .path
                .iter()
                .map(|v| convert::organization(v, &links))
                .collect(),
            total_childs: found.total as i64,
        }))
    }

    async fn get_available_users(
        &self,
        req: Request<GetAvailableUsersRequest>,
    ) -> Result<Response<GetAvailableUsersResponse>, Status> {
        let principal = principal(&req)?;
        let view = organization::get(&self.db, &principal, req.get_ref().organization_id).await?;
        let counts = view.availability;
        Ok(Response::new(GetAvailableUsersResponse {
            count_in_root: Some(convert::counts(counts.in_root)),
            count_total: Some(convert::counts(counts.total)),
        }))
    }

    async fn set_avatar(
        &self,
        req: Request<SetAvatarRequest>,
    ) -> Result<Response<SetAvatarResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        avatar::set(&self.db, &principal, r.organization_id, r.avatar).await?;
        Ok(Response::new(SetAvatarResponse {}))
    }

    async fn get_avatar(
        &self,
        req: Request<GetAvatarRequest>,
    ) -> Result<Response<GetAvatarResponse>, Status> {
        let principal = principal(&req)?;
        let (content_type, data) =
            avatar::get(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(GetAvatarResponse {
            image: Some(HttpBody {
                content_type,
                data,
                extensions: Vec::new(),
            }),
        }))
    }

    async fn get_public_avatar(
        &self,
        req: Request<GetPublicAvatarRequest>,
    ) -> Result<Response<GetPublicAvatarResponse>, Status> {
        let key = self.avatar_keys.get(&self.db).await?;
        let (content_type, data) =
            avatar::get_public(&self.db, key, &req.get_ref().capability).await?;
        Ok(Response::new(GetPublicAvatarResponse {
            image: Some(HttpBody {
                content_type,
                data,
                extensions: Vec::new(),
            }),
        }))
    }

    async fn get_availability_history(
        &self,
        req: Request<GetAvailabilityHistoryRequest>,
    ) -> Result<Response<GetAvailabilityHistoryResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let history =
            availability::history(&self.db, &principal, r.organization_id, r.limit, r.offset)
                .await?;
        Ok(Response::new(GetAvailabilityHistoryResponse {
            start_date: Some(convert::timestamp(history.start)),
            end_date: Some(convert::timestamp(history.end)),
            entries: history
                .entries
                .iter()
                .map(|(date, c)| AvailabilityHistoryEntry {
                    date: Some(convert::timestamp(*date)),
                    count_available: c.available,
                    count_in_event: c.in_event,
                    count_not_available: c.not_available,
                })
                .collect(),
        }))
    }

    async fn upsert_organization_location(
        &self,
        req: Request<UpsertOrganizationLocationRequest>,
    ) -> Result<Response<UpsertOrganizationLocationResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        let l = r
            .location
            .ok_or_else(|| DomainError::invalid("location", "is required"))?;
        let stored = organization::set_location(
            &self.db,
            &principal,
            r.organization_id,
            Location {
                address: l.address,
                latitude: l.latitude,
                longitude: l.longitude,
            },
        )
        .await
        .map_err(|e| within("location", e))?;
        Ok(Response::new(UpsertOrganizationLocationResponse {
            location: Some(convert::location(&stored)),
        }))
    }

    async fn delete_organization_location(
        &self,
        req: Request<DeleteOrganizationLocationRequest>,
    ) -> Result<Response<DeleteOrganizationLocationResponse>, Status> {
        let principal = principal(&req)?;
        organization::delete_location(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(DeleteOrganizationLocationResponse {}))
    }

    async fn list_owner_invitations(
        &self,
        req: Request<ListOwnerInvitationsRequest>,
    ) -> Result<Response<ListOwnerInvitationsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let open = owner::list_invitations(
            &self.db,
            &principal,
            r.organization_id,
            r.limit,
            r.offset,
            self.max_unpaged_items,
        )
        .await?;
        Ok(Response::new(ListOwnerInvitationsResponse {
            invitations: open.iter().map(convert::invitation).collect(),
        }))
    }

    async fn invite_owner(
        &self,
        req: Request<InviteOwnerRequest>,
    ) -> Result<Response<InviteOwnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        let invitation = owner::invite(&self.db, &principal, r.organization_id, &r.email).await?;
        Ok(Response::new(InviteOwnerResponse {
            invitation: Some(convert::invitation(&invitation)),
        }))
    }

    async fn accept_owner_invitation(
        &self,
        req: Request<AcceptOwnerInvitationRequest>,
    ) -> Result<Response<AcceptOwnerInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        owner::accept(&self.db, &principal, r.organization_id, &r.invitation_id).await?;
        Ok(Response::new(AcceptOwnerInvitationResponse {}))
    }

    async fn remove_owner_invitation(
        &self,
        req: Request<RemoveOwnerInvitationRequest>,
    ) -> Result<Response<RemoveOwnerInvitationResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        owner::remove_invitation(&self.db, &principal, r.organization_id, r.user_id).await?;
        Ok(Response::new(RemoveOwnerInvitationResponse {}))
    }

    async fn add_owner(
        &self,
        req: Request<AddOwnerRequest>,
    ) -> Result<Response<AddOwnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        owner::add(&self.db, &principal, r.organization_id, r.user_id).await?;
        Ok(Response::new(AddOwnerResponse {}))
    }

    async fn get_owner_in_parent_organization(
        &self,
        req: Request<GetOwnerInParentOrganizationRequest>,
    ) -> Result<Response<GetOwnerInParentOrganizationResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let r = req.get_ref();
        let view = owner::topmost_owned(&self.db, &principal, r.organization_id, r.user_id).await?;
        Ok(Response::new(GetOwnerInParentOrganizationResponse {
            organization: Some(convert::organization(&view, &links)),
        }))
    }

    async fn remove_owner(
        &self,
        req: Request<RemoveOwnerRequest>,
    ) -> Result<Response<RemoveOwnerResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.get_ref();
        owner::remove(&self.db, &principal, r.organization_id, r.user_id).await?;
        Ok(Response::new(RemoveOwnerResponse {}))
    }

    async fn get_organization_quick_actions(
        &self,
        req: Request<GetOrganizationQuickActionsRequest>,
    ) -> Result<Response<GetOrganizationQuickActionsResponse>, Status> {
        let principal = principal(&req)?;
        let actions =
            quick_action::list(&self.db, &principal, req.get_ref().organization_id).await?;
        Ok(Response::new(GetOrganizationQuickActionsResponse {
            quick_actions: actions.iter().map(convert::quick_action).collect(),
        }))
    }

    async fn set_organization_quick_actions(
        &self,
        req: Request<SetOrganizationQuickActionsRequest>,
    ) -> Result<Response<SetOrganizationQuickActionsResponse>, Status> {
        let principal = principal(&req)?;
        let r = req.into_inner();
        let input = r
            .quick_actions
            .into_iter()
            .map(convert::quick_action_input)
            .collect();
        let stored = quick_action::replace(&self.db, &principal, r.organization_id, input).await?;
        Ok(Response::new(SetOrganizationQuickActionsResponse {
            quick_actions: stored.iter().map(convert::quick_action).collect(),
        }))
    }

    async fn get_paginated_organizations(
        &self,
        req: Request<GetPaginatedOrganizationsRequest>,
    ) -> Result<Response<GetPaginatedOrganizationsResponse>, Status> {
        let principal = principal(&req)?;
        let links = self.links(&req).await?;
        let r = req.get_ref();
        let (page, total) = organization::top_level(
            &self.db,
            &principal,
            r.limit,
            r.offset,
            r.all,
            self.max_unpaged_items,
        )
        .await?;
        Ok(Response::new(GetPaginatedOrganizationsResponse {
            organizations: page
                .iter()
                .map(|v| convert::organization(v, &links))
                .collect(),
            total_organizations: total as i64,
        }))
    }

    async fn get_trial_status(
        &self,
        req: Request<GetTrialStatusRequest>,
    ) -> Result<Response<GetTrialStatusResponse>, Status> {
        let principal = principal(&req)?;
        let status = trial::get(&self.db, &principal).await?;
        Ok(Response::new(GetTrialStatusResponse {
            trial: Some(convert::trial(&status)),
        }))
    }

    async fn start_trial(
        &self,
        req: Request<StartTrialRequest>,
    ) -> Result<Response<StartTrialResponse>, Status> {
        let principal = principal(&req)?;
        let status = trial::start(&self.db, &principal).await?;
        Ok(Response::new(StartTrialResponse {
            trial: Some(convert::trial(&status)),
        }))
    }
}
