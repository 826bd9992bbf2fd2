use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_partners")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    /// The organization whose directory holds this record.
    pub organization_id: i64,
    pub company_name: String,
    /// `company_name` lowercased, for search.
    pub company_name_folded: String,
    pub sales_amount: i64,
    /// `customer` or `supplier`.
    pub partner_type: String,
    pub email: String,
    /// `email` lowercased, for search.
    pub email_folded: String,
    pub frequency: String,
    pub payment_terms: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub company_registration_number: Option<String>,
    /// Null, `invited` or `accepted`.
    pub invitation_status: Option<String>,
    pub guest_organization_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
