//! Whether two organizations are partners: the giosg partnerships, one row per side.

use sea_orm::{ConnectionTrait, Statement};

use super::error::DomainResult;

pub async fn connected(
    conn: &impl ConnectionTrait,
    organization_id: i64,
    other_id: i64,
) -> DomainResult<bool> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT 1 AS found FROM partnerships \
             WHERE organization_id = $1 AND partner_organization_id = $2",
            [organization_id.into(), other_id.into()],
        ))
        .await?;
    Ok(row.is_some())
}
