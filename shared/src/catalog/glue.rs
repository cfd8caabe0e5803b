//! [`Catalog`] on the AWS Glue Data Catalog (aws-sdk-glue).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_glue::Client;
use aws_sdk_glue::config::http::HttpResponse;
use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{
    Column as GlueColumn, PartitionInput, PartitionValueList, SerDeInfo, StorageDescriptor, Table, TableInput,
};

use super::{
    Catalog, CatalogError, Column, ErrorKind, HiveType, INPUT_FORMAT, OUTPUT_FORMAT, PartitionDef, SERDE, TABLE_TYPE,
    TableDef,
};

/// The Glue implementation, bound to one database.
#[derive(Clone)]
pub struct GlueCatalog {
    client: Client,
    database: String,
}

impl GlueCatalog {
    pub fn new(client: Client, database: impl Into<String>) -> Self {
        Self { client, database: database.into() }
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    fn error(&self, operation: &'static str, table: &str, kind: ErrorKind, message: String) -> CatalogError {
        CatalogError {
            operation,
            database: self.database.clone(),
            table: table.to_owned(),
            partition: None,
            kind,
            message,
        }
    }

    fn classify<E>(&self, operation: &'static str, table: &str, err: SdkError<E, HttpResponse>) -> CatalogError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (status, message) = crate::aws::status_and_message(&err);
        let kind = match (&err, err.code()) {
            (SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_), _) => {
                ErrorKind::Timeout
            }
            (_, Some(code)) if ErrorKind::from_code(code) != ErrorKind::Other => ErrorKind::from_code(code),
            _ => match status {
                Some(429) => ErrorKind::Throttled,
                Some(s) if s >= 500 => ErrorKind::Server,
                Some(403) => ErrorKind::AccessDenied,
                _ => ErrorKind::Other,
            },
        };
        self.error(operation, table, kind, message)
    }

    fn build_err(&self, operation: &'static str, table: &str, e: impl std::fmt::Display) -> CatalogError {
        self.error(operation, table, ErrorKind::InvalidInput, format!("building the request: {e}"))
    }

    fn glue_columns(
        &self,
        operation: &'static str,
        table: &str,
        cols: &[Column],
    ) -> Result<Vec<GlueColumn>, CatalogError> {
        cols.iter()
            .map(|c| {
                GlueColumn::builder()
                    .name(&c.name)
                    .r#type(c.data_type.to_string())
                    .set_comment(c.comment.clone())
                    .build()
                    .map_err(|e| self.build_err(operation, table, e))
            })
            .collect()
    }

    fn storage_descriptor(
        &self,
        operation: &'static str,
        table: &str,
        location: &str,
        cols: &[Column],
    ) -> Result<StorageDescriptor, CatalogError> {
        Ok(StorageDescriptor::builder()
            .set_columns(Some(self.glue_columns(operation, table, cols)?))
            .location(location)
            .input_format(INPUT_FORMAT)
            .output_format(OUTPUT_FORMAT)
            .serde_info(
                SerDeInfo::builder().serialization_library(SERDE).parameters("serialization.format", "1").build(),
            )
            .compressed(true)
            .build())
    }

    fn table_input(&self, operation: &'static str, t: &TableDef) -> Result<TableInput, CatalogError> {
        let keys = t.partition_keys.iter().map(|k| Column::new(k.clone(), HiveType::String)).collect::<Vec<_>>();
        TableInput::builder()
            .name(&t.name)
            .set_description(t.description.clone())
            .table_type(TABLE_TYPE)
            .set_parameters(Some(t.parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()))
            .storage_descriptor(self.storage_descriptor(operation, &t.name, &t.location, &t.columns)?)
            .set_partition_keys(Some(self.glue_columns(operation, &t.name, &keys)?))
            .build()
            .map_err(|e| self.build_err(operation, &t.name, e))
    }
}

fn columns_of(cols: &[GlueColumn]) -> Vec<Column> {
    cols.iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            data_type: HiveType::from(c.r#type().unwrap_or("string")),
            comment: c.comment().map(str::to_owned),
        })
        .collect()
}

fn table_def(t: &Table) -> TableDef {
    let sd = t.storage_descriptor();
    TableDef {
        name: t.name().to_owned(),
        location: sd.and_then(StorageDescriptor::location).unwrap_or_default().to_owned(),
        columns: sd.map(|sd| columns_of(sd.columns())).unwrap_or_default(),
        partition_keys: t.partition_keys().iter().map(|k| k.name().to_owned()).collect(),
        parameters: t.parameters().map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        description: t.description().map(str::to_owned),
        version_id: t.version_id().map(str::to_owned),
    }
}

#[async_trait]
impl Catalog for GlueCatalog {
    async fn get_table(&self, table: &str) -> Result<Option<TableDef>, CatalogError> {
        match self.client.get_table().database_name(&self.database).name(table).send().await {
            Ok(out) => Ok(out.table().map(table_def)),
            Err(e) => {
                let err = self.classify("GetTable", table, e);
                if err.kind == ErrorKind::NotFound { Ok(None) } else { Err(err) }
            }
        }
    }

    async fn create_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        let input = self.table_input("CreateTable", table)?;
        self.client
            .create_table()
            .database_name(&self.database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| self.classify("CreateTable", &table.name, e))?;
        Ok(())
    }

    async fn update_table(&self, table: &TableDef) -> Result<(), CatalogError> {
        let input = self.table_input("UpdateTable", table)?;
        self.client
            .update_table()
            .database_name(&self.database)
            .table_input(input)
            .set_version_id(table.version_id.clone())
            .send()
            .await
            .map_err(|e| self.classify("UpdateTable", &table.name, e))?;
        Ok(())
    }

    async fn batch_get_partitions(&self, table: &str, dts: &[String]) -> Result<Vec<String>, CatalogError> {
        let mut keys = dts
            .iter()
            .map(|dt| {
                PartitionValueList::builder()
                    .values(dt)
                    .build()
                    .map_err(|e| self.build_err("BatchGetPartition", table, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut found = Vec::new();
        // Glue may hand back keys it did not get to; ask again for those.
        for _ in 0..5 {
            if keys.is_empty() {
                break;
            }
            let out = self
                .client
                .batch_get_partition()
                .database_name(&self.database)
                .table_name(table)
                .set_partitions_to_get(Some(std::mem::take(&mut keys)))
                .send()
                .await
                .map_err(|e| self.classify("BatchGetPartition", table, e))?;
            found.extend(out.partitions().iter().filter_map(|p| p.values().first().cloned()));
            keys = out.unprocessed_keys().to_vec();
        }
        if !keys.is_empty() {
            return Err(self.error(
                "BatchGetPartition",
                table,
                ErrorKind::Throttled,
                format!("{} partition keys still unprocessed after 5 calls", keys.len()),
            ));
        }
        Ok(found)
    }

    async fn batch_create_partitions(
        &self,
        table: &TableDef,
        partitions: &[PartitionDef],
    ) -> Result<Vec<CatalogError>, CatalogError> {
        const OP: &str = "BatchCreatePartition";
        let inputs = partitions
            .iter()
            .map(|p| {
                Ok(PartitionInput::builder()
                    .values(&p.dt)
                    .storage_descriptor(self.storage_descriptor(OP, &table.name, &p.location, &p.columns)?)
                    .build())
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let out = self
            .client
            .batch_create_partition()
            .database_name(&self.database)
            .table_name(&table.name)
            .set_partition_input_list(Some(inputs))
            .send()
            .await
            .map_err(|e| self.classify(OP, &table.name, e))?;
        Ok(out
            .errors()
            .iter()
            .map(|e| {
                let detail = e.error_detail();
                let code = detail.and_then(|d| d.error_code()).unwrap_or("Unknown");
                let mut err = self.error(
                    OP,
                    &table.name,
                    ErrorKind::from_code(code),
                    format!("{code}: {}", detail.and_then(|d| d.error_message()).unwrap_or("")),
                );
                err.partition = e.partition_values().first().cloned();
                err
            })
            .collect())
    }
}
