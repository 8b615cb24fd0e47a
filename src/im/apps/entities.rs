//! The sea-orm entities of the apps tables (`im_apps`, `im_cards`, `im_card_actions`,
//! `im_app_callbacks`). Only `im::apps` touches them.

pub mod app {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "im_apps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub avatar: Option<String>,
        pub callback_url: String,
        pub secret: String,
        pub reach: String,
        pub reach_ids: String,
        pub key_hash: String,
        pub key_prefix: String,
        pub created_at: i64,
        pub revoked: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod card {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "im_cards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub app_id: Uuid,
        pub conversation_id: Uuid,
        pub seq: Option<i64>,
        pub decision: String,
        pub content: String,
        pub closed_at: Option<i64>,
        pub closed_by: Option<Uuid>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod action {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "im_card_actions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub card_id: Uuid,
        pub slot: String,
        pub staff_id: Uuid,
        pub action_id: String,
        pub comment: Option<String>,
        pub at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod callback {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "im_app_callbacks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub app_id: Uuid,
        pub card_id: Uuid,
        pub body: String,
        pub status: String,
        pub attempts: i32,
        pub next_at: i64,
        pub response_code: Option<i32>,
        pub error: Option<String>,
        pub created_at: i64,
        pub done_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
